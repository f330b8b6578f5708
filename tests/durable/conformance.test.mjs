// The official Durable Streams server conformance suite against CONFORMANCE_TEST_URL
// (tests/tst_durablestreams.cpp starts the app and runs this under vitest). The package's own
// CLI cannot find its test file as shipped (durable-streams issue #284), hence this file.
import { runConformanceTests } from '@durable-streams/server-conformance-tests'

runConformanceTests({
  baseUrl: process.env.CONFORMANCE_TEST_URL,
  longPollTimeoutMs: Number(process.env.LP_TIMEOUT_MS ?? 500),
  subscriptions: false,
})
