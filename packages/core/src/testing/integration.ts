/**
 * The integration tier's gate. `describeIntegration('kafka', probe, body)` runs `body` as a mocha suite
 * when `probe` succeeds. When it fails the suite is skipped with a loud message, unless
 * `OMNIBUS_REQUIRE_BROKERS=1` (CI), where the unreachable broker is a failure.
 */
export function describeIntegration(
  title: string,
  probe: () => Promise<void>,
  body: (this: Mocha.Suite) => void,
): void {
  describe(title, function () {
    before(async function () {
      this.timeout(30_000);
      try {
        await probe();
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        if (process.env.OMNIBUS_REQUIRE_BROKERS === '1') {
          throw new Error(
            `${title}: broker required (OMNIBUS_REQUIRE_BROKERS=1) but unreachable: ${reason}`,
            {
              cause: error,
            },
          );
        }
        console.warn(
          `\n  !!! SKIPPED ${title}: broker unreachable (${reason}). Start it with scripts/brokers up.\n`,
        );
        this.skip();
      }
    });
    body.call(this);
  });
}
