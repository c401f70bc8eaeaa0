import { ConcurrencyLimiter } from '../packages/concurrency/src/index.ts';
const Q = 1000;
for (let k=0;k<3;k++){
const res:number[]=[];
for (let r=0;r<1500;r++){ const c=new ConcurrencyLimiter({maxConcurrent:1, queueLimit:Q}); const t=process.hrtime.bigint(); const all=[]; for(let i=0;i<Q;i++) all.push(c.acquire().then(p=>p.release())); await Promise.all(all); res.push(Number(process.hrtime.bigint()-t)/Q); }
res.sort((a,b)=>a-b); console.log(res[750]?.toFixed(0));}
