#pragma once

#include "Backend.h"

#include <QString>
#include <memory>

// Starts the real backend in-process for a test: on the given Redis (a RedisServer fixture's
// connectionString()), any free port, optionally with another agent. Waits until HTTP listens
// and every Redis connection is up; returns nullptr (and *error) when it could not start.
//
//   auto backend = startTestBackend(config, m_redis.connectionString());
//   QVERIFY(backend);
std::unique_ptr<Backend> startTestBackend(Config config, const QString &redis, AgentFactory factory = {}, QString *error = nullptr);
