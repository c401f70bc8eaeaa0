// The service in a process of its own, started by the harness (`child_process.fork`), so the
// load generator and the service each have a core and the service's RSS is its own.
// Protocol over the IPC channel: → { type: 'ready', port }; ← { type: 'sample', id } →
// { type: 'sample', id, stats }; ← { type: 'close' } → exits.
import { createService, type ServiceOptions, type ServiceStats } from './service.js';

/** A message from the harness. */
export type ToService = { readonly type: 'sample'; readonly id: number } | { readonly type: 'close' };
/** A message to the harness. */
export type FromService =
  | { readonly type: 'ready'; readonly port: number }
  | { readonly type: 'sample'; readonly id: number; readonly stats: ServiceStats };

const send = (message: FromService) => process.send?.(message);
const options = JSON.parse(process.argv[2] ?? '{}') as ServiceOptions;
const service = createService(options);
const port = await service.listen();

process.on('message', (message: ToService) => {
  if (message.type === 'sample') send({ type: 'sample', id: message.id, stats: service.stats() });
  else if (message.type === 'close') void service.close().then(() => process.exit(0));
});
// the harness is gone: nothing left to serve
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', port });
