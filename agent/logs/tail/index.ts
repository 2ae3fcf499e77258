export type { TailedFile, TailChunk, TailStats } from './fileTailer.js';
export { FileTailer } from './fileTailer.js';
export type { FileTailerOptions, TailLog } from './tailerOptions.js';
export { TAILER_DEFAULTS } from './tailerOptions.js';
export type { CheckpointEntry, CheckpointLoad, CheckpointSave } from './checkpointStore.js';
export { CheckpointStore } from './checkpointStore.js';
