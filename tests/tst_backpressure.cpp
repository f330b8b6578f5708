// Back-pressure on real sockets: the sender thread keeps order and holds what a slow socket
// does not take; a replay to a client that stops reading pauses (bounded memory) and goes on
// when it reads again; a live client that falls too far behind is dropped and resumes from
// its last id without a gap or a duplicate.
#include "HttpClient.h"
#include "RedisServer.h"
#include "TestBackend.h"
#include "http/SocketSender.h"
#include "http/stream/StreamResponse.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {
// The synthetic provider's chunk k starts with "<k> ".
QList<int> chunkNumbers(const QList<HttpClient::Event> &events)
{
    QList<int> ks;
    for (const auto &e : events)
        if (e.event == "message")
            ks << e.data.left(e.data.indexOf(' ')).toInt();
    return ks;
}

// A loopback connection: `client` connected to `server`; returns the server's side (or nullptr).
QTcpSocket *connectedPair(QTcpServer &server, QTcpSocket &client)
{
    if (!server.listen(QHostAddress::LocalHost))
        return nullptr;
    client.connectToHost(QHostAddress::LocalHost, server.serverPort());
    if (!server.waitForNewConnection(5000) || !client.waitForConnected(5000))
        return nullptr;
    return server.nextPendingConnection();
}

bool isZeroToN(const QList<int> &ks, int n)
{
    if (ks.size() != n)
        return false;
    for (int i = 0; i < n; ++i)
        if (ks.at(i) != i)
            return false;
    return true;
}
} // namespace

class TestBackpressure : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void senderKeepsOrderThroughAFullSocket();
    void senderNoticesAResetPeer();
    void replayPausesForAClientThatStopsReading();
    void slowLiveClientIsDroppedAndResumes();

private:
    RedisServer m_redis;
};

void TestBackpressure::initTestCase()
{
    QVERIFY2(m_redis.start(false), qPrintable(m_redis.error()));
}

void TestBackpressure::senderKeepsOrderThroughAFullSocket()
{
    QTcpServer server;
    QTcpSocket client;
    QTcpSocket *accepted = connectedPair(server, client);
    QVERIFY(accepted);

    auto sender = SocketSender::create();
    auto channel = sender->attach(int(accepted->socketDescriptor()));
    QVERIFY(channel);
    // 16 MiB that nobody reads yet: more than the kernel buffers hold, so the channel must keep
    // the rest (and say so) until the client reads.
    QByteArray expected;
    for (int i = 0; i < 4096; ++i) {
        QByteArray block = QByteArray::number(i).rightJustified(8, '0') + QByteArray(4088, char('a' + i % 26));
        expected += block;
        channel->write(block);
    }
    QTRY_VERIFY_WITH_TIMEOUT(channel->pending() > 0 && channel->pending() < expected.size(), 10000);
    const qint64 held = channel->pending();
    QVERIFY2(held > 1024 * 1024, qPrintable(QString::number(held)));
    // Closing now still delivers every byte first, then the end of the stream.
    channel->close();
    accepted->close(); // Qt's descriptor goes; the sender's copy keeps the connection
    QByteArray received;
    QSignalSpy gone(&client, &QTcpSocket::disconnected);
    connect(&client, &QTcpSocket::readyRead, this, [&] { received += client.readAll(); });
    QTRY_VERIFY_WITH_TIMEOUT(gone.size() == 1, 20000);
    received += client.readAll();
    QCOMPARE(received.size(), expected.size());
    QVERIFY(received == expected);
    QCOMPARE(channel->pending(), 0);
    QVERIFY(!channel->broken());
    sender->stop();
}

void TestBackpressure::senderNoticesAResetPeer()
{
    QTcpServer server;
    QTcpSocket client;
    QTcpSocket *accepted = connectedPair(server, client);
    QVERIFY(accepted);
    auto sender = SocketSender::create();
    auto channel = sender->attach(int(accepted->socketDescriptor()));
    QVERIFY(channel);
    client.abort();
    // Writes into a connection the peer has closed fail (reset / broken pipe) within a few.
    QTRY_VERIFY_WITH_TIMEOUT((channel->write(QByteArray(1000, 'x')), channel->broken()), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(channel->pending(), 0, 5000); // nothing is kept for a dead client
    channel->close();
    sender->stop();
}

void TestBackpressure::replayPausesForAClientThatStopsReading()
{
    Config config;
    config.bench = true;
    config.clientBufferBytes = 1 << 20; // replays pause at 256 KiB unsent
    auto backend = startTestBackend(config, m_redis.connectionString());
    QVERIFY(backend);
    const int n = 12000;
    HttpClient create;
    create.request(backend->port(), "POST", "/api/agent/create", {{"Content-Type", "application/json"}},
                   QJsonDocument(QJsonObject{{"prompt", "bench"}, {"provider", "synthetic"}, {"chunks", n}, {"bytes", 1000}, {"rate", 0}})
                       .toJson(QJsonDocument::Compact));
    QTRY_VERIFY_WITH_TIMEOUT(create.isFinished(), 30000);
    QCOMPARE(create.events().last().event, QByteArray("done"));
    const QByteArray id = create.header("x-conversation-id");

    HttpClient reader;
    reader.setPaused(true);
    reader.request(backend->port(), "GET", "/api/agent/stream/" + id);
    // The server writes until the kernel's buffers are full and then holds what is left; while
    // a quarter of the client buffer is unsent it reads no more from Redis: the stream stays
    // open, nothing is lost, and what it holds is bounded by that quarter plus one batch.
    QTRY_VERIFY_WITH_TIMEOUT(StreamResponse::unsentTotal() > 0, 20000);
    const qint64 bound = (1 << 18) + 4001 * 1100;
    QVERIFY2(StreamResponse::unsentTotal() <= bound, qPrintable(QString::number(StreamResponse::unsentTotal())));
    QCOMPARE(StreamResponse::openCount(), 1);
    QVERIFY(!reader.isFinished());
    reader.setPaused(false);
    QTRY_VERIFY_WITH_TIMEOUT(reader.isFinished(), 30000);
    QCOMPARE(reader.events().last().event, QByteArray("done"));
    QVERIFY(isZeroToN(chunkNumbers(reader.events()), n));
}

void TestBackpressure::slowLiveClientIsDroppedAndResumes()
{
    Config config;
    config.bench = true;
    config.clientBufferBytes = 65536;
    auto backend = startTestBackend(config, m_redis.connectionString());
    QVERIFY(backend);
    QCOMPARE(StreamResponse::openCount(), 0);
    const int n = 12000;
    // A client with a 4 KiB receive window (set before connecting, which Qt cannot do) that
    // reads nothing: the server's side of the connection fills up after a few MB.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    QVERIFY(fd >= 0);
    const int window = 4096;
    QCOMPARE(::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &window, sizeof window), 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(backend->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    QCOMPARE(::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr), 0);
    const QByteArray body = QJsonDocument(QJsonObject{{"prompt", "bench"}, {"provider", "synthetic"}, {"chunks", n}, {"bytes", 1000}, {"rate", 0}})
                                .toJson(QJsonDocument::Compact);
    const QByteArray request = "POST /api/agent/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
        + QByteArray::number(body.size()) + "\r\n\r\n" + body;
    QCOMPARE(::send(fd, request.constData(), size_t(request.size()), MSG_NOSIGNAL), ssize_t(request.size()));
    // The run writes 12 MB as fast as Redis takes it. Once the kernel holds what it can, the
    // server keeps at most 64 KiB (plus one batch) for this client, then drops it.
    QTRY_COMPARE_WITH_TIMEOUT(StreamResponse::openCount(), 1, 10000);
    QTRY_VERIFY_WITH_TIMEOUT(StreamResponse::openCount() == 0, 60000);
    QByteArray received;
    auto readToEnd = [&] {
        char buf[65536];
        for (;;) {
            const ssize_t r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (r > 0)
                received.append(buf, r);
            else
                return r == 0; // end of stream; -1 = nothing more right now
        }
    };
    QTRY_VERIFY_WITH_TIMEOUT(readToEnd(), 20000);
    ::close(fd);
    const qsizetype head = received.indexOf("\r\n\r\n");
    QVERIFY(head > 0);
    QByteArray id;
    for (const QByteArray &line : received.left(head).split('\n'))
        if (line.toLower().startsWith("x-conversation-id:"))
            id = line.mid(line.indexOf(':') + 1).trimmed();
    QVERIFY(!id.isEmpty());
    const QList<HttpClient::Event> firstEvents = HttpClient::parseSse(received.mid(head + 4));
    QVERIFY(!firstEvents.isEmpty());
    QVERIFY2(firstEvents.last().event != "done", "the slow client was not dropped");
    const QList<int> first = chunkNumbers(firstEvents);
    QVERIFY(first.size() < n);

    // Resumed once the whole run is stored: the writer stores batches of hundreds of these
    // 1000-byte chunks, so a live fan-out of one batch is bigger than this test's 64 KiB budget
    // and would drop even a fast client that reads in this (the server's) thread.
    auto status = [&] {
        HttpClient get;
        get.request(backend->port(), "GET", "/api/agent/" + id);
        QSignalSpy done(&get, &HttpClient::finished);
        if (!get.isFinished())
            done.wait(5000);
        return QJsonDocument::fromJson(get.body()).object().value(QStringLiteral("status")).toString();
    };
    QTRY_COMPARE_WITH_TIMEOUT(status(), QStringLiteral("completed"), 30000);
    HttpClient resumed;
    resumed.request(backend->port(), "GET", "/api/agent/stream/" + id, {{"Last-Event-ID", firstEvents.last().id}});
    QTRY_VERIFY_WITH_TIMEOUT(resumed.isFinished(), 30000);
    QCOMPARE(resumed.events().last().event, QByteArray("done"));
    QVERIFY(isZeroToN(first + chunkNumbers(resumed.events()), n)); // no gap, no duplicate
}

QTEST_GUILESS_MAIN(TestBackpressure)
#include "tst_backpressure.moc"
