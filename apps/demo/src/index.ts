export { DEMO_ORDERS, POISON_ID, runDemo, type DemoOptions, type DemoResult } from './in-process-demo.js';
export { violations, type SampleOutcome } from './invariants.js';
export { DeadLetterWatch, SAMPLE_SOURCES, type DeadLetterSeen } from './dead-letter-watch.js';
export { Timeline, type TimelineEntry } from './timeline.js';
