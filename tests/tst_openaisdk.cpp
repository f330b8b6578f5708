// The official openai npm package (tests/sdk, pinned by its package-lock.json) against the
// real app: two instances on one real Redis, driven by tests/sdk/responses.test.mjs under
// `node --test`. `npm ci` runs first when node_modules is missing or older than the lock.
#include "AppProcess.h"
#include "HttpClient.h"
#include "NodePackage.h"
#include "RedisServer.h"

#include <QDir>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSignalSpy>
#include <QTest>

namespace {
const QString kSdkDir = QStringLiteral(AGENT_STREAMS_SDK_DIR);
const QString kKey = QStringLiteral("sdk-test-key-a-0123456789");
const QString kOtherKey = QStringLiteral("sdk-test-key-b-0123456789");
} // namespace

class TestOpenAiSdk : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void sdkSuite();
    void unavailableWhileRedisIsDown();

private:
    RedisServer m_redis;
    AppProcess m_a;
    AppProcess m_b;
};

void TestOpenAiSdk::initTestCase()
{
    QByteArray out;
    QVERIFY2(NodePackage::install(kSdkDir, &out), out.constData());
    QVERIFY2(m_redis.start(), qPrintable(m_redis.error()));
    // --bench: the synthetic provider, for a response long enough to have checkpoints.
    const QStringList common{QStringLiteral("--demo-pace-ms"), QStringLiteral("4"), QStringLiteral("--api-keys"), kKey + QLatin1Char(',') + kOtherKey,
                             QStringLiteral("--bench")};
    QVERIFY2(m_a.start(m_redis.connectionString(), common), m_a.log.constData());
    QVERIFY2(m_b.start(m_redis.connectionString(), common + QStringList{QStringLiteral("--creates-per-minute"), QStringLiteral("1"),
                                                                         QStringLiteral("--create-burst"), QStringLiteral("1")}),
             m_b.log.constData());
}

void TestOpenAiSdk::sdkSuite()
{
    QProcess node;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("AS_BASE_A"), m_a.baseUrl());
    env.insert(QStringLiteral("AS_BASE_B"), m_b.baseUrl());
    env.insert(QStringLiteral("AS_KEY"), kKey);
    env.insert(QStringLiteral("AS_OTHER_KEY"), kOtherKey);
    node.setProcessEnvironment(env);
    QByteArray out;
    const bool ok = NodePackage::run(node, kSdkDir, QStringLiteral("node"), {QStringLiteral("--test"), QStringLiteral("--test-reporter=spec"), QStringLiteral("responses.test.mjs")},
                        240000, &out);
    qInfo().noquote() << QString::fromUtf8(out);
    m_a.log += m_a.process.readAll();
    QVERIFY2(ok, (QByteArray("the SDK suite failed; app A's log:\n") + m_a.log.right(4000)).constData());
}

// Last: it stops Redis. A create and a retrieve answer 503 with Retry-After in OpenAI's shape
// (the SDK retries those, honouring Retry-After).
void TestOpenAiSdk::unavailableWhileRedisIsDown()
{
    m_redis.stop();
    const QList<QPair<QByteArray, QByteArray>> auth{{"Authorization", "Bearer " + kKey.toUtf8()}, {"Content-Type", "application/json"}};
    for (const auto &[method, target, body] : {std::tuple<QByteArray, QByteArray, QByteArray>{"POST", "/v1/responses",
                                                                                             R"({"model":"demo","input":"x","background":true})"},
                                               {"GET", "/v1/responses/resp_0123456789abcdef0123456789abcdef019adc5be0000003", {}}}) {
        HttpClient c;
        c.request(m_a.port, method, target, auth, body);
        QTRY_VERIFY_WITH_TIMEOUT(c.isFinished() || (c.headersDone() && c.body().endsWith('\n')), 15000);
        QCOMPARE(c.status(), 503);
        QVERIFY(c.header("Retry-After").toInt() >= 1);
        const QJsonObject error = QJsonDocument::fromJson(c.body()).object().value(QStringLiteral("error")).toObject();
        QCOMPARE(error.value(QStringLiteral("type")).toString(), QStringLiteral("server_error"));
        QVERIFY(!error.value(QStringLiteral("message")).toString().isEmpty());
    }
}

QTEST_GUILESS_MAIN(TestOpenAiSdk)
#include "tst_openaisdk.moc"
