// Request framing at the socket, before QtHttpServer parses anything (issue 12, items 2, 3, 9
// and 10): bodies counted whatever their framing, keyless requests refused before their body,
// ambiguous or malformed heads answered 400/411/501/505 and closed, Connection: close and
// HTTP/1.0 honoured, no unsolicited 408 on an idle keep-alive connection, HEAD without a body,
// the listen backlog. Every test talks to the real backend over real sockets, in raw bytes.
#include "Backend.h"
#include "HttpClient.h"
#include "RedisServer.h"
#include "TestBackend.h"
#include "agents/Itinerary.h"
#include "http/GuardedTcpServer.h"
#include "http/RequestHead.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

#include <QElapsedTimer>
#include <QEventLoop>
#include <QTimer>

#include <arpa/inet.h>
#include <cerrno>
#include <fcntl.h>
#include <limits>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {
const QByteArray kKey = "framing-key-0123456789abcdef";

// Bytes with NULs in them, from a string literal (all of it, not up to the first NUL).
template <std::size_t N>
QByteArray bytes(const char (&literal)[N])
{
    return QByteArray(literal, qsizetype(N - 1));
}

// Resident memory of this process (the backend runs in it), in KiB.
qint64 rssKiB()
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n'))
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').first().toLongLong();
    return -1;
}

int somaxconn()
{
    QFile f(QStringLiteral("/proc/sys/net/core/somaxconn"));
    bool ok = false;
    const int n = f.open(QIODevice::ReadOnly) ? f.readAll().trimmed().toInt(&ok) : 0;
    return ok && n > 0 ? n : 4096;
}

// One raw connection: writes exact bytes, keeps everything the server sends, notes the close.
class RawConnection
{
public:
    explicit RawConnection(quint16 port)
    {
        QObject::connect(&socket, &QTcpSocket::readyRead, &socket, [this] { take(); });
        QObject::connect(&socket, &QTcpSocket::disconnected, &socket, [this] {
            take();
            closed = true;
        });
        QObject::connect(&socket, &QTcpSocket::errorOccurred, &socket, [this](QAbstractSocket::SocketError) {
            take();
            closed = closed || socket.state() == QAbstractSocket::UnconnectedState;
        });
        socket.connectToHost(QHostAddress::LocalHost, port);
        connected = socket.waitForConnected(5000);
    }
    void send(const QByteArray &bytes) { socket.write(bytes); }
    void take()
    {
        if (socket.isOpen())
            received += socket.readAll();
    }
    // Status lines received: the number of responses.
    int responses() const
    {
        int n = received.startsWith("HTTP/1.1 ") ? 1 : 0;
        for (qsizetype at = received.indexOf("\nHTTP/1.1 "); at >= 0; at = received.indexOf("\nHTTP/1.1 ", at + 1))
            ++n;
        return n;
    }
    // Waits (event loop) until the socket wrote what it was given, or the server closed.
    bool flush(int ms = 5000)
    {
        return QTest::qWaitFor([&] { return socket.bytesToWrite() == 0 || closed; }, ms);
    }
    // The status of the first response, 0 while its status line is incomplete.
    int status() const
    {
        if (!received.startsWith("HTTP/1.1 ") || received.size() < 12)
            return 0;
        return received.mid(9, 3).toInt();
    }
    bool headComplete() const { return received.contains("\r\n\r\n"); }
    QByteArray header(const QByteArray &name) const
    {
        const QByteArray head = received.left(received.indexOf("\r\n\r\n"));
        for (const QByteArray &line : head.split('\n')) {
            const qsizetype colon = line.indexOf(':');
            if (colon > 0 && line.left(colon).trimmed().compare(name, Qt::CaseInsensitive) == 0)
                return line.mid(colon + 1).trimmed();
        }
        return {};
    }
    QByteArray body() const { return received.mid(received.indexOf("\r\n\r\n") + 4); }

    QTcpSocket socket;
    QByteArray received;
    bool closed = false;
    bool connected = false;
};

// Writes `head`, then body pieces from `piece(i)` until `total` bytes of body went out, the server
// answered, or it closed. Keeps at most 1 MiB queued in our socket so that our own buffers do not
// count in the server's memory. Returns the body bytes written; *peakKiB the highest RSS seen.
qint64 pump(RawConnection &c, const QByteArray &head, const std::function<QByteArray(qint64 sent)> &piece, qint64 total,
            qint64 *peakKiB)
{
    c.send(head);
    qint64 sent = 0;
    *peakKiB = rssKiB();
    while (sent < total && !c.closed && c.received.isEmpty()) {
        while (c.socket.bytesToWrite() < (1 << 20) && sent < total) {
            const QByteArray bytes = piece(sent);
            c.send(bytes);
            sent += bytes.size();
        }
        // An event wait, not a sleep: returns as soon as a write completes or the server answers.
        QEventLoop loop;
        QObject::connect(&c.socket, &QTcpSocket::bytesWritten, &loop, &QEventLoop::quit);
        QObject::connect(&c.socket, &QTcpSocket::readyRead, &loop, &QEventLoop::quit);
        QObject::connect(&c.socket, &QTcpSocket::disconnected, &loop, &QEventLoop::quit);
        QObject::connect(&c.socket, &QTcpSocket::errorOccurred, &loop, &QEventLoop::quit);
        QTimer::singleShot(5000, &loop, &QEventLoop::quit);
        loop.exec();
        *peakKiB = qMax(*peakKiB, rssKiB());
    }
    return sent;
}
} // namespace

class TestFraming : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    // RequestHead alone (pure)
    void headEnd_data();
    void headEnd();
    void headCheck_data();
    void headCheck();
    void requestLineCheckedEarly_data();
    void requestLineCheckedEarly();
    // the guard on the real server
    void chunkedBodyIsRefusedBeforeItIsRead();
    void bareLfHeadWithLargeBodyIsRefused();
    void keylessRequestIsRefusedBeforeItsBody_data();
    void keylessRequestIsRefusedBeforeItsBody();
    void keyedAndOpenRequestsStillPass();
    void smuggledRequestIsNotExecuted_data();
    void smuggledRequestIsNotExecuted();
    void malformedHeadsAreRefused_data();
    void malformedHeadsAreRefused();
    void headDribbledByteByByteIsStillChecked();
    void connectionCloseIsHonoured_data();
    void connectionCloseIsHonoured();
    void http10KeepAliveStaysOpen();
    void idleKeepAliveClosesWithoutA408();
    void headHasNoBody();
    void listenBacklogIsSomaxconn();

private:
    RedisServer m_redis;
    std::unique_ptr<Backend> m_open;  // no keys
    std::unique_ptr<Backend> m_keyed; // API keys on
};

void TestFraming::initTestCase()
{
    QVERIFY2(m_redis.start(), qPrintable(m_redis.error()));
    Config open;
    open.demoPaceMs = 1;
    open.requestTimeoutMs = 20000; // far longer than any wait below: a close we see is not the idle timer
    m_open = startTestBackend(open, m_redis.connectionString());
    QVERIFY(m_open);
    Config keyed = open;
    keyed.apiKeys = {QString::fromUtf8(kKey)};
    m_keyed = startTestBackend(keyed, m_redis.connectionString());
    QVERIFY(m_keyed);
}

void TestFraming::headEnd_data()
{
    QTest::addColumn<QByteArray>("data");
    QTest::addColumn<int>("end");
    QTest::newRow("CRLF") << QByteArray("GET / HTTP/1.1\r\nHost: x\r\n\r\nbody") << 27;
    QTest::newRow("bare LF") << QByteArray("GET / HTTP/1.1\nHost: x\n\nbody") << 24;
    QTest::newRow("LF then CRLF") << QByteArray("GET / HTTP/1.1\r\nHost: x\n\r\nbody") << 26;
    QTest::newRow("request line only") << QByteArray("GET / HTTP/1.0\r\n\r\n") << 18;
    QTest::newRow("request line only, LF") << QByteArray("GET / HTTP/1.0\n\n") << 16;
    QTest::newRow("empty lines first") << QByteArray("\r\n\nGET / HTTP/1.0\r\n\r\n") << 21;
    QTest::newRow("incomplete") << QByteArray("GET / HTTP/1.1\r\nHost: x\r\n") << -1;
    QTest::newRow("CR of the last CRLF missing its LF") << QByteArray("GET / HTTP/1.1\r\nHost: x\r\n\r") << -1;
    QTest::newRow("only empty lines") << QByteArray("\r\n\r\n\n") << -1;
    QTest::newRow("CR CR LF is not an empty line") << QByteArray("GET / HTTP/1.1\r\n\r\r\nX: y\r\n\r\n") << 27;
}

void TestFraming::headEnd()
{
    QFETCH(QByteArray, data);
    QFETCH(int, end);
    QCOMPARE(RequestHead::findEnd(data), qsizetype(end));
    // Fed in pieces with the hint, the same end.
    qsizetype searched = 0, found = -1;
    for (qsizetype n = 1; n <= data.size() && found < 0; ++n) {
        found = RequestHead::findEnd(QByteArrayView(data).first(n), searched);
        searched = n;
    }
    QCOMPARE(found, qsizetype(end));
}

void TestFraming::headCheck_data()
{
    QTest::addColumn<QByteArray>("head");
    QTest::addColumn<int>("status");
    QTest::addColumn<qint64>("contentLength");
    QTest::addColumn<bool>("keepAlive");
    const QByteArray get = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    QTest::newRow("plain GET") << get + "\r\n" << 0 << qint64(0) << true;
    QTest::newRow("bare LF") << QByteArray("GET / HTTP/1.1\nHost: x\nAccept: */*\n\n") << 0 << qint64(0) << true;
    QTest::newRow("POST with a length") << QByteArray("POST /api/agent/create HTTP/1.1\r\nHost: 127.0.0.1:7071\r\nContent-Length: 0012\r\n\r\n") << 0
                                        << qint64(12) << true;
    QTest::newRow("OWS and tabs around a value") << get + "X-A: \t v a \t\r\nContent-Length:5 \r\n\r\n" << 0 << qint64(5) << true;
    QTest::newRow("obs-text in a value") << get + "X-A: caf\xc3\xa9\r\n\r\n" << 0 << qint64(0) << true;
    QTest::newRow("huge length") << get + "Content-Length: 99999999999999999999999\r\n\r\n" << 0 << std::numeric_limits<qint64>::max() << true;
    QTest::newRow("Connection: close") << get + "Connection: close\r\n\r\n" << 0 << qint64(0) << false;
    QTest::newRow("Connection list") << get + "Connection: Upgrade, CLOSE\r\n\r\n" << 0 << qint64(0) << false;
    QTest::newRow("HTTP/1.0") << QByteArray("GET / HTTP/1.0\r\n\r\n") << 0 << qint64(0) << false;
    QTest::newRow("HTTP/1.0 keep-alive") << QByteArray("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") << 0 << qint64(0) << true;
    QTest::newRow("absolute form") << QByteArray("GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n") << 0 << qint64(0) << true;
    QTest::newRow("asterisk form") << QByteArray("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n") << 0 << qint64(0) << true;
    QTest::newRow("asterisk form with GET") << QByteArray("GET * HTTP/1.1\r\nHost: x\r\n\r\n") << 400 << qint64(0) << true;
    QTest::newRow("IPv6 Host") << QByteArray("GET / HTTP/1.1\r\nHost: [::1]:7071\r\n\r\n") << 0 << qint64(0) << true;
    QTest::newRow("empty Host") << QByteArray("GET / HTTP/1.1\r\nHost:\r\n\r\n") << 0 << qint64(0) << true;
    QTest::newRow("Host with userinfo") << QByteArray("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n") << 400 << qint64(0) << true;
    QTest::newRow("CL + TE") << get + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" << 400 << qint64(3) << true;
    QTest::newRow("TE in two fields, chunked last") << get + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" << 411 << qint64(0)
                                                    << true;
    QTest::newRow("TE chunked then gzip") << get + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n" << 400 << qint64(0) << true;
    QTest::newRow("TE chunked with a trailing comma") << get + "Transfer-Encoding: chunked,\r\n\r\n" << 400 << qint64(0) << true;
    QTest::newRow("TE uppercase CHUNKED") << get + "Transfer-Encoding: CHUNKED\r\n\r\n" << 411 << qint64(0) << true;
    QTest::newRow("TE in HTTP/1.0") << QByteArray("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") << 400 << qint64(0) << false;
    QTest::newRow("100 fields") << [] {
        QByteArray h = "GET / HTTP/1.1\r\n";
        for (int i = 0; i < 99; ++i)
            h += "X-" + QByteArray::number(i) + ": v\r\n";
        return h + "Host: x\r\n\r\n";
    }() << 0 << qint64(0) << true;
    QTest::newRow("101 fields") << [] {
        QByteArray h = "GET / HTTP/1.1\r\nHost: x\r\n";
        for (int i = 0; i < 100; ++i)
            h += "X-" + QByteArray::number(i) + ": v\r\n";
        return h + "\r\n";
    }() << 431 << qint64(0) << true;
    QTest::newRow("a field of 8000 bytes") << get + "X: " + QByteArray(7997, 'a') + "\r\n\r\n" << 0 << qint64(0) << true;
    QTest::newRow("a field of 8001 bytes") << get + "X: " + QByteArray(7998, 'a') + "\r\n\r\n" << 431 << qint64(0) << true;
    QTest::newRow("DEL in a value") << get + "X: a\x7f\r\n\r\n" << 400 << qint64(0) << true;
    QTest::newRow("DEL in the target") << QByteArray("GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n") << 400 << qint64(0) << true;
    QTest::newRow("trailing space after the version") << QByteArray("GET / HTTP/1.1 \r\nHost: x\r\n\r\n") << 400 << qint64(0) << true;
    QTest::newRow("CONNECT") << QByteArray("CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n") << 501 << qint64(0) << true;
    QTest::newRow("TRACE") << QByteArray("TRACE / HTTP/1.1\r\nHost: x\r\n\r\n") << 501 << qint64(0) << true;
}

void TestFraming::headCheck()
{
    QFETCH(QByteArray, head);
    QFETCH(int, status);
    QFETCH(qint64, contentLength);
    QFETCH(bool, keepAlive);
    QCOMPARE(RequestHead::findEnd(head), head.size());
    const RequestHead h = RequestHead::parse(head);
    QVERIFY2(h.status == status, h.error.constData());
    QVERIFY(h.status == 0 || !h.error.isEmpty());
    if (status == 0) {
        QCOMPARE(h.contentLength, contentLength);
        QCOMPARE(h.keepAlive, keepAlive);
        // The same head with bare LFs means the same.
        const RequestHead lf = RequestHead::parse(QByteArray(head).replace("\r\n", "\n"));
        QCOMPARE(lf.status, 0);
        QCOMPARE(lf.fields, h.fields);
    }
}

void TestFraming::requestLineCheckedEarly_data()
{
    QTest::addColumn<QByteArray>("data");
    QTest::addColumn<int>("status");
    QTest::newRow("nothing yet") << QByteArray("GET /heal") << -1;
    QTest::newRow("empty lines only") << QByteArray("\r\n\r\n") << -1;
    QTest::newRow("a good line") << QByteArray("GET /healthz HTTP/1.1\r\nHo") << 0;
    QTest::newRow("HTTP/0.9") << QByteArray("GET /healthz\r\n") << 400;
    QTest::newRow("HTTP/0.9, bare LF") << QByteArray("GET /healthz\n") << 400;
    QTest::newRow("TLS on the plain port") << bytes("\x16\x03\x01\x02\x00\x01\n") << 400;
    QTest::newRow("505 before the headers") << QByteArray("GET / HTTP/3.0\r\n") << 505;
    QTest::newRow("501 before the headers") << QByteArray("BREW /pot HTTP/1.1\r\n") << 501;
    QTest::newRow("HTTP/2 preface") << QByteArray("PRI * HTTP/2.0\r\n") << 505;
}

void TestFraming::requestLineCheckedEarly()
{
    QFETCH(QByteArray, data);
    QFETCH(int, status);
    QByteArray why;
    QCOMPARE(RequestHead::checkRequestLine(data, &why), status);
    QCOMPARE(why.isEmpty(), status <= 0);
}

void TestFraming::chunkedBodyIsRefusedBeforeItIsRead()
{
    // 64 MiB of chunked body: 1024 chunks of 64 KiB.
    const QByteArray data(64 * 1024, 'a');
    const QByteArray chunk = QByteArray::number(data.size(), 16) + "\r\n" + data + "\r\n";
    const qint64 total = 1024 * chunk.size();
    RawConnection c(m_open->port());
    QVERIFY(c.connected);
    const qint64 before = rssKiB();
    qint64 peak = 0;
    const qint64 sent = pump(c,
                             "POST /api/agent/create HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n",
                             [&](qint64) { return chunk; }, total, &peak);
    qInfo("chunked 64 MiB POST: answered %d after %lld of %lld body bytes; RSS %lld KiB before, peak %lld KiB (+%lld KiB)",
          c.status(), sent, total, before, peak, peak - before);
    QTRY_VERIFY_WITH_TIMEOUT(c.closed, 5000);
    QCOMPARE(c.status(), 411); // Length Required: this API takes bodies with a Content-Length only
    QVERIFY(c.body().contains("Content-Length"));
    QVERIFY2(sent < total / 4, "the server read the body instead of refusing it");
    QVERIFY2(peak - before < 16 * 1024, "the server's memory grew with the body");
}

void TestFraming::bareLfHeadWithLargeBodyIsRefused()
{
    const qint64 total = 64 << 20;
    const QByteArray piece(16 * 1024, 'b');
    RawConnection c(m_open->port());
    QVERIFY(c.connected);
    const qint64 before = rssKiB();
    qint64 peak = 0;
    const qint64 sent = pump(c,
                             "POST /api/agent/create HTTP/1.1\nHost: x\nContent-Type: text/plain\nContent-Length: "
                                 + QByteArray::number(total) + "\n\n",
                             [&](qint64) { return piece; }, total, &peak);
    qInfo("bare-LF head, 64 MiB body: answered %d after %lld of %lld body bytes; RSS %lld KiB before, peak %lld KiB (+%lld KiB)",
          c.status(), sent, total, before, peak, peak - before);
    QTRY_VERIFY_WITH_TIMEOUT(c.closed, 5000);
    QCOMPARE(c.status(), 413);
    QVERIFY2(sent < total / 4, "the server read the body instead of refusing it");
    QVERIFY2(peak - before < 16 * 1024, "the server's memory grew with the body");
}

void TestFraming::keylessRequestIsRefusedBeforeItsBody_data()
{
    QTest::addColumn<QByteArray>("head");
    QTest::addColumn<bool>("json");
    // Under the body limit (128 KiB): without the key check QtHttpServer would wait for all of it.
    const QByteArray big = "Content-Type: text/plain\r\nContent-Length: 100000\r\n";
    QTest::newRow("no key") << "POST /api/agent/create HTTP/1.1\r\nHost: x\r\n" + big + "\r\n" << false;
    QTest::newRow("no key, JSON errors") << "POST /api/agent/create HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n" + big + "\r\n"
                                        << true;
    QTest::newRow("wrong key") << "POST /api/agent/create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope-nope-nope-nope\r\n" + big
                                      + "\r\n"
                               << false;
    QTest::newRow("wrong access_token") << "POST /api/agent/create?access_token=nope-nope-nope-nope HTTP/1.1\r\nHost: x\r\n" + big + "\r\n"
                                        << false;
    QTest::newRow("bare LF") << QByteArray("POST /api/agent/create HTTP/1.1\nHost: x\nContent-Length: 100000\n\n") << false;
}

void TestFraming::keylessRequestIsRefusedBeforeItsBody()
{
    QFETCH(QByteArray, head);
    QFETCH(bool, json);
    RawConnection c(m_keyed->port());
    QVERIFY(c.connected);
    c.send(head); // and none of the 100,000 bytes of body
    QTRY_VERIFY_WITH_TIMEOUT(c.closed, 3000); // well before the 20 s request deadline
    QCOMPARE(c.status(), 401);
    QCOMPARE(c.header("WWW-Authenticate"), QByteArray("Bearer realm=\"agent-streams\""));
    if (json) {
        QCOMPARE(c.header("Content-Type"), QByteArray("application/json"));
        const QJsonObject error = QJsonDocument::fromJson(c.body()).object().value(QStringLiteral("error")).toObject();
        QCOMPARE(error.value(QStringLiteral("code")).toString(), QStringLiteral("unauthorized"));
        QVERIFY(error.value(QStringLiteral("message")).toString().contains(QStringLiteral("API key")));
    } else {
        QVERIFY(c.body().contains("a valid API key is required"));
    }
}

void TestFraming::keyedAndOpenRequestsStillPass()
{
    const quint16 port = m_keyed->port();
    // Probes and preflights need no key; a key in either form is let through to the API.
    const QList<QPair<QByteArray, int>> cases{
        {"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 200},
        {"GET /readyz?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", 200},
        {"OPTIONS /api/agent/create HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n\r\n", 204},
        {"GET /api/agent/nope HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kKey + "\r\n\r\n", 404},
        {"GET /api/agent/nope?access_token=" + kKey + " HTTP/1.1\r\nHost: x\r\n\r\n", 404},
        {"POST /api/agent/create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kKey
             + "\r\nContent-Type: text/plain\r\nAccept: application/json\r\nContent-Length: 12\r\n\r\nTrip to Graz",
         202},
    };
    for (const auto &[request, status] : cases) {
        RawConnection c(port);
        QVERIFY(c.connected);
        c.send(request);
        QTRY_VERIFY_WITH_TIMEOUT(c.headComplete(), 5000);
        QVERIFY2(c.status() == status, request.constData());
    }
}

void TestFraming::smuggledRequestIsNotExecuted_data()
{
    QTest::addColumn<QByteArray>("framing"); // header lines that frame the body ambiguously
    QTest::addColumn<QByteArray>("before"); // body bytes before the hidden request
    QTest::addColumn<int>("status");
    // QtHttpServer frames by Transfer-Encoding when both are there; a proxy may use Content-Length.
    const QByteArray emptyChunked = "0\r\n\r\n";
    QTest::newRow("Content-Length then Transfer-Encoding")
        << QByteArray("Content-Length: {len}\r\nTransfer-Encoding: chunked\r\n") << emptyChunked << 400;
    QTest::newRow("Transfer-Encoding then Content-Length")
        << QByteArray("Transfer-Encoding: chunked\r\nContent-Length: {len}\r\n") << emptyChunked << 400;
    // QtHttpServer takes the first of two.
    QTest::newRow("two Content-Lengths") << QByteArray("Content-Length: 5\r\nContent-Length: {len}\r\n") << QByteArray("hello") << 400;
    QByteArray many;
    for (int i = 0; i < 120; ++i)
        many += "X-Filler-" + QByteArray::number(i) + ": v\r\n";
    // Over QtHttpServer's 100 fields its parser drops every header, Content-Length included.
    QTest::newRow("over 100 fields") << many + "Content-Length: {len}\r\n" << QByteArray() << 431;
}

void TestFraming::smuggledRequestIsNotExecuted()
{
    QFETCH(QByteArray, framing);
    QFETCH(QByteArray, before);
    QFETCH(int, status);
    Config slow;
    slow.demoPaceMs = 40; // a run of a few seconds
    slow.requestTimeoutMs = 20000;
    auto backend = startTestBackend(slow, m_redis.connectionString());
    QVERIFY(backend);
    HttpClient run;
    const QByteArray prompt = "Plan a 2-day trip to Porto";
    run.request(backend->port(), "POST", "/api/agent/create", {{"Content-Type", "text/plain"}}, prompt);
    QTRY_VERIFY_WITH_TIMEOUT(run.events().size() > 2, 10000);
    const QByteArray id = run.header("x-conversation-id");
    QVERIFY(!id.isEmpty());

    // One body for a front end that frames by one header, two requests for a back end that
    // frames by the other: the second one cancels someone else's run.
    const QByteArray hidden = "POST /api/agent/" + id + "/cancel HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    const QByteArray body = before + hidden;
    RawConnection c(backend->port());
    QVERIFY(c.connected);
    c.send("POST /api/agent/create HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
           + QByteArray(framing).replace("{len}", QByteArray::number(body.size())) + "\r\n" + body);
    QTRY_VERIFY_WITH_TIMEOUT(c.closed, 3000);
    QCOMPARE(c.status(), status);
    QCOMPARE(c.responses(), 1); // one answer, nothing for the hidden request

    QTRY_VERIFY_WITH_TIMEOUT(run.isFinished(), 20000);
    QCOMPARE(run.events().last().event, QByteArray("done"));
    QCOMPARE(run.messageText(), Itinerary::write(QString::fromUtf8(prompt)).toUtf8());
    HttpClient state;
    state.request(backend->port(), "GET", "/api/agent/" + id, {{"Accept", "application/json"}});
    QTRY_VERIFY_WITH_TIMEOUT(state.headersDone() && state.body().endsWith('\n'), 5000);
    const QJsonObject o = QJsonDocument::fromJson(state.body()).object();
    QCOMPARE(o.value(QStringLiteral("cancelled")).toBool(), false);
    QVERIFY2(o.value(QStringLiteral("status")).toString() != QStringLiteral("cancelled"), state.body().constData());
}

void TestFraming::malformedHeadsAreRefused_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<int>("status");
    const QByteArray post = "POST /api/agent/create HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n";
    // Framing (smuggling)
    QTest::newRow("Content-Length + Transfer-Encoding") << post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" << 400;
    QTest::newRow("Transfer-Encoding + Content-Length") << post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" << 400;
    QTest::newRow("two different Content-Lengths") << post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!" << 400;
    QTest::newRow("two equal Content-Lengths") << post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello" << 400;
    QTest::newRow("Content-Length list") << post + "Content-Length: 5, 5\r\n\r\nhello" << 400;
    QTest::newRow("space before the colon") << post + "Content-Length : 5\r\n\r\nhello" << 400;
    QTest::newRow("tab before the colon") << post + "Content-Length\t: 5\r\n\r\nhello" << 400;
    QTest::newRow("folded Content-Length") << post + "Content-Length:\r\n 5\r\n\r\nhello" << 400;
    QTest::newRow("obs-fold in another field") << QByteArray("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n") << 400;
    QTest::newRow("Content-Length +5") << post + "Content-Length: +5\r\n\r\nhello" << 400;
    QTest::newRow("Content-Length 0x5") << post + "Content-Length: 0x5\r\n\r\nhello" << 400;
    QTest::newRow("Content-Length 5a") << post + "Content-Length: 5a\r\n\r\nhello" << 400;
    QTest::newRow("Content-Length empty") << post + "Content-Length: \r\n\r\nhello" << 400;
    QTest::newRow("Content-Length 5.0") << post + "Content-Length: 5.0\r\n\r\nhello" << 400;
    QTest::newRow("Transfer-Encoding not ending in chunked") << post + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n" << 400;
    QTest::newRow("Transfer-Encoding: identity") << post + "Transfer-Encoding: identity\r\n\r\nhello" << 400;
    QTest::newRow("chunked body") << post + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" << 411;
    // Request line
    QTest::newRow("HTTP/0.9") << QByteArray("GET /\r\n\r\n") << 400;
    QTest::newRow("HTTP/0.9, one line only") << QByteArray("GET /healthz\r\n") << 400;
    QTest::newRow("no target") << QByteArray("GET HTTP/1.1\r\nHost: x\r\n\r\n") << 400;
    QTest::newRow("two spaces") << QByteArray("GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n") << 400;
    QTest::newRow("tab separator") << QByteArray("GET\t/healthz HTTP/1.1\r\nHost: x\r\n\r\n") << 400;
    QTest::newRow("space in the target") << QByteArray("GET /health z HTTP/1.1\r\nHost: x\r\n\r\n") << 400;
    QTest::newRow("target not a path") << QByteArray("GET healthz HTTP/1.1\r\nHost: x\r\n\r\n") << 400;
    QTest::newRow("garbage") << bytes("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n") << 400;
    QTest::newRow("lowercase version") << QByteArray("GET /healthz http/1.1\r\nHost: x\r\n\r\n") << 400;
    QTest::newRow("version without minor") << QByteArray("GET /healthz HTTP/1\r\nHost: x\r\n\r\n") << 400;
    QTest::newRow("HTTP/2.0") << QByteArray("GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n") << 505;
    QTest::newRow("HTTP/1.2") << QByteArray("GET /healthz HTTP/1.2\r\nHost: x\r\n\r\n") << 505;
    QTest::newRow("HTTP/0.9 as a version") << QByteArray("GET /healthz HTTP/0.9\r\nHost: x\r\n\r\n") << 505;
    QTest::newRow("unknown method") << QByteArray("BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n") << 501;
    QTest::newRow("lowercase method") << QByteArray("get /healthz HTTP/1.1\r\nHost: x\r\n\r\n") << 501;
    QTest::newRow("method not a token") << QByteArray("GE(T /healthz HTTP/1.1\r\nHost: x\r\n\r\n") << 400;
    // Control characters
    QTest::newRow("NUL in the target") << bytes("GET /heal\0thz HTTP/1.1\r\nHost: x\r\n\r\n") << 400;
    QTest::newRow("CR in the target") << QByteArray("GET /heal\rthz HTTP/1.1\r\nHost: x\r\n\r\n") << 400;
    QTest::newRow("NUL in a value") << bytes("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n") << 400;
    QTest::newRow("bare CR in a value") << QByteArray("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n") << 400;
    QTest::newRow("bare CR ends a line") << QByteArray("GET /healthz HTTP/1.1\rHost: x\r\n\r\n") << 400;
    QTest::newRow("other control in a value") << QByteArray("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x01z\r\n\r\n") << 400;
    // Header lines
    QTest::newRow("line without a colon") << QByteArray("GET /healthz HTTP/1.1\r\nHost: x\r\nnonsense\r\n\r\n") << 400;
    QTest::newRow("empty field name") << QByteArray("GET /healthz HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n") << 400;
    QTest::newRow("no Host in HTTP/1.1") << QByteArray("GET /healthz HTTP/1.1\r\n\r\n") << 400;
    QTest::newRow("two Hosts") << QByteArray("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") << 400;
    QTest::newRow("Host with a path") << QByteArray("GET /healthz HTTP/1.1\r\nHost: a/b\r\n\r\n") << 400;
    QTest::newRow("space before the request line") << QByteArray(" GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") << 400;
}

void TestFraming::malformedHeadsAreRefused()
{
    QFETCH(QByteArray, request);
    QFETCH(int, status);
    RawConnection c(m_open->port());
    QVERIFY(c.connected);
    c.send(request);
    QTRY_VERIFY_WITH_TIMEOUT(c.closed, 3000);
    QVERIFY2(c.status() == status, c.received.left(200).constData());
    QCOMPARE(c.header("Connection"), QByteArray("close"));
    QCOMPARE(c.responses(), 1);
}

void TestFraming::headDribbledByteByByteIsStillChecked()
{
    // The guard sees each segment as it arrives, after QtHttpServer consumed the earlier ones:
    // a head cut in pieces must be checked whole all the same.
    const QByteArray request = "POST /api/agent/create HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    RawConnection c(m_open->port());
    QVERIFY(c.connected);
    for (const char byte : request) {
        c.send(QByteArray(1, byte));
        QVERIFY(c.flush());
        QCoreApplication::processEvents(); // let the server read this byte on its own
        if (c.closed)
            break;
    }
    QTRY_VERIFY_WITH_TIMEOUT(c.closed, 3000);
    QCOMPARE(c.status(), 400);
}

void TestFraming::connectionCloseIsHonoured_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<int>("status");
    QTest::newRow("HTTP/1.0") << QByteArray("GET /healthz HTTP/1.0\r\n\r\n") << 200;
    QTest::newRow("HTTP/1.0, Connection: close") << QByteArray("GET /healthz HTTP/1.0\r\nConnection: close\r\n\r\n") << 200;
    QTest::newRow("Connection: close") << QByteArray("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") << 200;
    QTest::newRow("Connection: Keep-Alive, Close") << QByteArray("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, Close\r\n\r\n")
                                                   << 200;
    QTest::newRow("an error") << QByteArray("GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") << 404;
    QTest::newRow("preflight") << QByteArray("OPTIONS /api/agent/create HTTP/1.1\r\nHost: x\r\nOrigin: https://a.example\r\nConnection: close\r\n\r\n")
                               << 204;
    // Answered later, from a Redis callback.
    QTest::newRow("background create") << QByteArray("POST /api/agent/create HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                                                     "Accept: application/json\r\nConnection: close\r\nContent-Length: 12\r\n\r\nTrip to Bonn")
                                       << 202;
}

void TestFraming::connectionCloseIsHonoured()
{
    QFETCH(QByteArray, request);
    QFETCH(int, status);
    RawConnection c(m_open->port());
    QVERIFY(c.connected);
    c.send(request);
    QTRY_VERIFY_WITH_TIMEOUT(c.closed, 3000); // the idle deadline is 20 s: this is the server honouring close
    QCOMPARE(c.status(), status);
    QCOMPARE(c.responses(), 1); // no 408 after the answer
    QVERIFY(!c.received.contains("408"));
    const qint64 length = c.header("Content-Length").toLongLong();
    QCOMPARE(c.body().size(), length);
}

void TestFraming::http10KeepAliveStaysOpen()
{
    RawConnection c(m_open->port());
    QVERIFY(c.connected);
    c.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    QTRY_VERIFY_WITH_TIMEOUT(c.headComplete() && c.body().endsWith('\n'), 3000);
    QCOMPARE(c.status(), 200);
    QCOMPARE(c.header("Connection").toLower(), QByteArray("keep-alive"));
    c.send("GET /readyz HTTP/1.0\r\n\r\n"); // the same connection serves a second request
    QTRY_VERIFY_WITH_TIMEOUT(c.closed, 3000);
    QCOMPARE(c.received.count("HTTP/1.1 200"), 2);
}

void TestFraming::idleKeepAliveClosesWithoutA408()
{
    Config quick;
    quick.requestTimeoutMs = 300;
    auto backend = startTestBackend(quick, m_redis.connectionString());
    QVERIFY(backend);
    // Idle after an answer: closed without a word (RFC 9110 9.3... a server closing an idle
    // connection sends no unsolicited response).
    RawConnection idle(backend->port());
    QVERIFY(idle.connected);
    idle.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    QTRY_VERIFY_WITH_TIMEOUT(idle.closed, 5000);
    QCOMPARE(idle.status(), 200);
    QCOMPARE(idle.responses(), 1);
    // A second request that starts but never finishes is still timed out with 408.
    RawConnection slow(backend->port());
    QVERIFY(slow.connected);
    slow.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost:");
    QTRY_VERIFY_WITH_TIMEOUT(slow.closed, 5000);
    QCOMPARE(slow.received.count("HTTP/1.1 200"), 1);
    QCOMPARE(slow.received.count("HTTP/1.1 408"), 1);
}

void TestFraming::headHasNoBody()
{
    RawConnection c(m_open->port());
    QVERIFY(c.connected);
    // HEAD, then GET on the same connection: the GET's answer follows the HEAD's header block
    // directly, or the HEAD sent a body.
    c.send("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nHEAD /api/agent/create HTTP/1.1\r\nHost: x\r\n\r\n"
           "HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    QTRY_VERIFY_WITH_TIMEOUT(c.closed, 3000);
    const QList<QByteArray> expected{"HTTP/1.1 200", "HTTP/1.1 405", "HTTP/1.1 404", "HTTP/1.1 200"};
    qsizetype pos = 0;
    for (int i = 0; i < expected.size(); ++i) {
        QVERIFY2(c.received.mid(pos).startsWith(expected.at(i)), c.received.mid(pos, 80).constData());
        const qsizetype end = c.received.indexOf("\r\n\r\n", pos);
        QVERIFY(end > 0);
        const QByteArray head = c.received.mid(pos, end - pos);
        QVERIFY(head.contains("\r\nContent-Length: ")); // the length the GET would have
        pos = end + 4;
        if (i == expected.size() - 1) { // the GET: its body, then the end of the connection
            QCOMPARE(c.received.mid(pos), QByteArray("{\"status\":\"ok\"}\n"));
        }
    }
}

void TestFraming::listenBacklogIsSomaxconn()
{
    const int expected = somaxconn();
    auto *server = m_open->findChild<QTcpServer *>();
    QVERIFY(server);
    QCOMPARE(server->listenBacklogSize(), expected);
    GuardedSslServer tls{GuardedTcpServer::Limits{}};
    QCOMPARE(tls.listenBacklogSize(), expected);

    // Behaviour: 600 connections opened at once, while the server's thread accepts none of them,
    // all complete at once. With a backlog of 50 the kernel drops the SYNs past it, and those
    // connections wait for the client's SYN retry a second later.
    const int n = qMin(600, expected);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(m_open->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::vector<pollfd> fds;
    for (int i = 0; i < n; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        QVERIFY(fd >= 0);
        const int rc = ::connect(fd, reinterpret_cast<const sockaddr *>(&addr), sizeof addr);
        QVERIFY(rc == 0 || errno == EINPROGRESS);
        fds.push_back({fd, POLLOUT, 0});
    }
    QElapsedTimer clock;
    clock.start();
    int done = 0;
    while (clock.elapsed() < 700) {
        done = 0;
        for (pollfd &p : fds)
            p.revents = 0;
        ::poll(fds.data(), fds.size(), 20);
        for (const pollfd &p : fds)
            done += (p.revents & POLLOUT) ? 1 : 0;
        if (done == n)
            break;
    }
    int refused = 0;
    for (const pollfd &p : fds) {
        int error = 0;
        socklen_t len = sizeof error;
        ::getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &error, &len);
        refused += error != 0 ? 1 : 0;
        ::close(p.fd);
    }
    qInfo("%d of %d connections complete within %lld ms without an accept (%d refused)", done, n, clock.elapsed(), refused);
    QCOMPARE(refused, 0);
    QCOMPARE(done, n);
    // The server then sees them all close; it stays healthy.
    RawConnection after(m_open->port());
    QVERIFY(after.connected);
    after.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    QTRY_VERIFY_WITH_TIMEOUT(after.closed || after.status() == 200, 10000);
    QCOMPARE(after.status(), 200);
}

QTEST_GUILESS_MAIN(TestFraming)
#include "tst_framing.moc"
