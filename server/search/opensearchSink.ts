/** Logs into OpenSearch data streams; an ISM policy (when the plugin is there) rolls them over and deletes them after the retention. */
import type { LogSearchSection } from './config.js';
import { LogSearchSink, type LogSearchSinkDeps } from './logSearchSink.js';
import { opensearchTransport } from './opensearchTransport.js';

export class OpensearchSink extends LogSearchSink {
  constructor(config: LogSearchSection, deps: LogSearchSinkDeps) {
    super(config, 'opensearch', deps.transport ?? opensearchTransport(config), deps);
  }
}
