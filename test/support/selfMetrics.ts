/** A counter in Prometheus text exposition, summed over its label sets; 0 when it is not there. */
export function counterValue(selfMetrics: string, name: string): number {
  return selfMetrics
    .split('\n')
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/** The text a daemon serves at /metrics, or '' while it does not answer yet. */
export async function readSelfMetrics(baseUrl: string): Promise<string> {
  try {
    const response = await fetch(`${baseUrl}/metrics`);
    return response.ok ? await response.text() : '';
  } catch {
    return '';
  }
}
