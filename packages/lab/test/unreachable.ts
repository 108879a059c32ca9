/** The error a probe throws: which service, where, and why, for describeIntegration's skip message. */
export function unreachable(service: string, error: unknown): Error {
  const reason = error instanceof Error ? error.message || error.name : String(error);
  return new Error(`${service} does not answer: ${reason}`, { cause: error });
}
