/** A tenant's log search in OpenSearch. */
import type { LogSearchSection } from './config.js';
import { LogSearchStore } from './logSearchStore.js';
import { opensearchTransport } from './opensearchTransport.js';
import type { SearchTransport } from './transport.js';

export class OpensearchLogStore extends LogSearchStore {
  constructor(config: LogSearchSection, deps: { readonly transport?: SearchTransport } = {}) {
    super(config, 'opensearch', deps.transport ?? opensearchTransport(config));
  }
}
