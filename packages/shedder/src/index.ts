export { DEFAULT_SHED_THRESHOLD, LoadShedder, defaultLevels, loadShedder } from './load-shedder.js';
export type { CodelOptions, LoadShedderOptions, LoadSignal, ShedLevel } from './options.js';
