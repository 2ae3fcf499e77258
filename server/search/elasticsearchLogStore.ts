/** A tenant's log search in Elasticsearch. */
import type { LogSearchSection } from './config.js';
import { elasticsearchTransport } from './elasticsearchTransport.js';
import { LogSearchStore } from './logSearchStore.js';
import type { SearchTransport } from './transport.js';

export class ElasticsearchLogStore extends LogSearchStore {
  constructor(config: LogSearchSection, deps: { readonly transport?: SearchTransport } = {}) {
    super(config, 'elasticsearch', deps.transport ?? elasticsearchTransport(config));
  }
}
