#include "TestBackend.h"

#include "RedisServer.h"

#include <QSignalSpy>
#include <QTest>

std::unique_ptr<Backend> startTestBackend(Config config, const QString &redis, AgentFactory factory, QString *error)
{
    config.redisConnectionString = redis;
    if (config.redisCaFile.isEmpty())
        config.redisCaFile = RedisServer::testCaFile(); // AGENT_STREAMS_TEST_REDIS_TLS=1
    config.redisExplicit = true;
    config.port = 0;
    auto backend = std::make_unique<Backend>(config);
    if (factory)
        backend->setAgentFactory(std::move(factory));
    QSignalSpy ready(backend.get(), &Backend::ready);
    QSignalSpy failed(backend.get(), &Backend::failed);
    backend->start();
    if (!QTest::qWaitFor([&] { return !ready.isEmpty() || !failed.isEmpty(); }, 30000) || !failed.isEmpty()) {
        if (error)
            *error = failed.isEmpty() ? QStringLiteral("the backend did not get ready in 30 s") : failed.first().first().toString();
        return nullptr;
    }
    return backend;
}
