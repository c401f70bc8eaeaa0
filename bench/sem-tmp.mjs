import { ConcurrencyLimiter } from '../packages/concurrency/dist/index.js';
const Q = 1000;
for (let k=0;k<4;k++){
const res=[];
for (let r=0;r<3000;r++){ const c=new ConcurrencyLimiter({maxConcurrent:1, queueLimit:Q}); const t=process.hrtime.bigint(); const all=[]; for(let i=0;i<Q;i++) all.push(c.acquire().then(p=>p.release())); await Promise.all(all); res.push(Number(process.hrtime.bigint()-t)/Q); }
res.sort((a,b)=>a-b); console.log(res[1500].toFixed(0));}
