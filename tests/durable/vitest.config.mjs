// Sequential files, generous timeouts: the suite talks to a real server and Redis.
export default {
  test: {
    include: ['*.test.mjs'],
    testTimeout: 30000,
    hookTimeout: 30000,
  },
}
