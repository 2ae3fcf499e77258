/** Logs into Elasticsearch data streams; an ILM policy rolls them over and deletes them after the retention. */
import type { LogSearchSection } from './config.js';
import { elasticsearchTransport } from './elasticsearchTransport.js';
import { LogSearchSink, type LogSearchSinkDeps } from './logSearchSink.js';

export class ElasticsearchSink extends LogSearchSink {
  constructor(config: LogSearchSection, deps: LogSearchSinkDeps) {
    super(config, 'elasticsearch', deps.transport ?? elasticsearchTransport(config), deps);
  }
}
