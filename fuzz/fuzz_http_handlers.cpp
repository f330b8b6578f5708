// fuzz_http_handlers: the real API server (Backend: GuardedTcpServer + ApiServer + RunManager +
// StreamHub on a real redis-server) fed raw bytes over a real loopback socket.
//
// LLVMFuzzerInitialize starts a redis-server on a unix socket in a temporary directory (killed
// with us: PR_SET_PDEATHSIG) and a Backend on a free port with the offline demo agent, waits for
// Backend::ready and starts one conversation whose id the inputs can refer to.
//
// Each input: connect, write the bytes (after a request prefix chosen by the first byte when it
// is 0x01-0x0e, to get past the request line quickly), run the event loop until the server
// closes, or a streaming response has sent its headers, or the server stays silent (see
// kQuietMs / kFirstByteMs), or kDeadlineMs passed. Properties of whatever came back:
//  - it starts with "HTTP/1.1 ", and so does every response after the body of the previous one
//    (Content-Length is right: no response splitting / desync);
//  - every header line is "Name: value" with a known name and no control characters: nothing
//    from the input ends up as a header line of its own (CR/LF injection);
//  - a response to HEAD has no body (the pipelined requests are found with RequestHead);
//  - a first head that RequestHead refuses (ambiguous framing, obs-fold, bad request line...)
//    gets exactly that status, one response, and the connection closed: nothing hidden behind
//    it is answered.
// Any ASan/UBSan report in the backend is a crash as usual.
//
// Environment: FUZZ_VERBOSE=1 keeps the backend's logging; FUZZ_HTTP_TRACE=1 prints each
// exchange.

#include "FuzzSupport.h"

#include "Backend.h"
#include "Config.h"
#include "http/RequestHead.h"

#include <QCoreApplication>
#include <QEventLoop>
#include <QLoggingCategory>
#include <QProcess>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTimer>

#include <csignal>
#include <filesystem>
#include <sys/prctl.h>
#include <unistd.h>

using FuzzSupport::escaped;

namespace {

// How long to wait for the server. A request whose header block is incomplete is answered at
// once or not at all (the server waits for more); a complete one may need Redis round trips
// while demo runs keep the event loop busy; after a response, pipelined ones follow quickly.
constexpr int kQuietMs = 10;       // no complete header block sent, or after the server's last byte
constexpr int kFirstByteMs = 150;  // a complete header block was sent: wait this long for an answer
constexpr int kDeadlineMs = 300;   // per input, whatever happens
constexpr qsizetype kMaxReply = 256 * 1024;

struct World
{
    QCoreApplication *app = nullptr;
    QTemporaryDir *dir = nullptr;
    QProcess *redis = nullptr;
    Backend *backend = nullptr;
    quint16 port = 0;
    QByteArray knownId; // a conversation that exists
};
World g;

[[noreturn]] void die(const QString &why)
{
    std::fprintf(stderr, "fuzz_http_handlers: %s\n", qPrintable(why));
    std::_Exit(2);
}

void cleanup()
{
    // At exit Qt's own globals may already be gone: plain POSIX only.
    if (g.redis && g.redis->processId() > 0)
        ::kill(pid_t(g.redis->processId()), SIGKILL);
    if (g.dir) {
        std::error_code ignored;
        std::filesystem::remove_all(g.dir->path().toStdString(), ignored);
    }
}

// Runs the event loop until `done` returns true or `ms` pass.
bool spinUntil(const std::function<bool()> &done, int ms)
{
    QEventLoop loop;
    QTimer poll, deadline;
    QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
        if (done())
            loop.quit();
    });
    QObject::connect(&deadline, &QTimer::timeout, &loop, &QEventLoop::quit);
    poll.start(5);
    deadline.start(ms);
    if (!done())
        loop.exec();
    return done();
}

void startRedis()
{
    g.dir = new QTemporaryDir(QDir::tempPath() + QStringLiteral("/fuzz-http-XXXXXX"));
    if (!g.dir->isValid())
        die(QStringLiteral("no temporary directory"));
    g.redis = new QProcess;
    g.redis->setProcessChannelMode(QProcess::MergedChannels);
    g.redis->setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGKILL); });
    const QString socketPath = g.dir->filePath(QStringLiteral("redis.sock"));
    g.redis->start(QStringLiteral("redis-server"),
                   {QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--unixsocket"), socketPath,
                    QStringLiteral("--unixsocketperm"), QStringLiteral("700"), QStringLiteral("--dir"), g.dir->path(),
                    QStringLiteral("--save"), QString(), QStringLiteral("--appendonly"), QStringLiteral("no"),
                    QStringLiteral("--daemonize"), QStringLiteral("no")});
    if (!g.redis->waitForStarted(5000))
        die(QStringLiteral("cannot start redis-server: %1").arg(g.redis->errorString()));
    std::atexit(cleanup);
    QByteArray log;
    const bool ready = spinUntil([&] {
        log += g.redis->readAll();
        return log.toLower().contains("ready to accept connections") || g.redis->state() != QProcess::Running;
    }, 10000);
    if (!ready || g.redis->state() != QProcess::Running)
        die(QStringLiteral("redis-server is not ready: %1").arg(QString::fromLocal8Bit(log.right(800))));
}

struct Exchange
{
    QByteArray reply;
    bool closed = false;
};

// The response starting at `pos` is a stream (no Content-Length) whose headers are complete.
bool streamingHeadersIn(const QByteArray &reply)
{
    qsizetype pos = 0;
    while (true) {
        const qsizetype end = reply.indexOf("\r\n\r\n", pos);
        if (end < 0)
            return false;
        const QByteArray head = reply.mid(pos, end - pos).toLower();
        const qsizetype cl = head.indexOf("\r\ncontent-length:");
        if (cl < 0)
            return true;
        const qsizetype lineEnd = head.indexOf("\r\n", cl + 2);
        const qint64 length = head.mid(cl + 17, lineEnd < 0 ? -1 : lineEnd - cl - 17).trimmed().toLongLong();
        pos = end + 4 + length;
        if (pos >= reply.size())
            return false;
    }
}

Exchange exchange(const QByteArray &request, int firstByteMs, int quietMs, int deadlineMs)
{
    Exchange x;
    QTcpSocket socket;
    QEventLoop loop;
    QTimer quiet, deadline;
    quiet.setSingleShot(true);
    deadline.setSingleShot(true);
    QObject::connect(&quiet, &QTimer::timeout, &loop, &QEventLoop::quit);
    QObject::connect(&deadline, &QTimer::timeout, &loop, &QEventLoop::quit);
    QObject::connect(&socket, &QTcpSocket::connected, &loop, [&] {
        socket.write(request);
        quiet.start(firstByteMs);
    });
    QObject::connect(&socket, &QTcpSocket::bytesWritten, &loop, [&] { quiet.start(x.reply.isEmpty() ? firstByteMs : quietMs); });
    QObject::connect(&socket, &QTcpSocket::readyRead, &loop, [&] {
        x.reply += socket.readAll();
        if (x.reply.size() > kMaxReply || streamingHeadersIn(x.reply))
            loop.quit();
        else
            quiet.start(quietMs);
    });
    QObject::connect(&socket, &QTcpSocket::disconnected, &loop, [&] {
        x.reply += socket.readAll();
        x.closed = true;
        loop.quit();
    });
    QObject::connect(&socket, &QTcpSocket::errorOccurred, &loop, [&](QAbstractSocket::SocketError e) {
        if (e != QAbstractSocket::RemoteHostClosedError)
            loop.quit();
    });
    deadline.start(deadlineMs);
    socket.connectToHost(QHostAddress::LocalHost, g.port);
    loop.exec();
    x.reply += socket.readAll();
    QObject::disconnect(&socket, nullptr, &loop, nullptr); // our abort() is not the server closing
    socket.abort();
    return x;
}

// Every name the backend (HttpUtil, StreamResponse, GuardedTcpServer, CORS) or QtHttpServer
// writes. A name outside this list is a header the input made up.
bool knownHeader(const QByteArray &name)
{
    static const QList<QByteArray> known{
        "access-control-allow-headers", "access-control-allow-methods", "access-control-allow-origin",
        "access-control-expose-headers", "access-control-max-age", "allow", "cache-control", "connection",
        "content-length", "content-type", "retry-after", "vary", "www-authenticate", "x-accel-buffering",
        "x-conversation-id", "date", "server", "transfer-encoding", "upgrade", "sec-websocket-accept",
    };
    return known.contains(name.toLower());
}

void fail(const QByteArray &input, const Exchange &x, const char *why)
{
    std::fprintf(stderr, "\ninput (%d bytes): \"%s\"\nreply (%d bytes): \"%s\"\n", int(input.size()),
                 escaped(input, 3000).constData(), int(x.reply.size()), escaped(x.reply, 3000).constData());
    FUZZ_CHECK(false, "%s", why);
}

// For each request the input makes (as the guard delimits them), whether it is HEAD; stops at the
// first head that is incomplete or refused.
QList<bool> headRequests(const QByteArray &input)
{
    QList<bool> out;
    qsizetype pos = 0;
    while (pos < input.size()) {
        const QByteArrayView rest = QByteArrayView(input).sliced(pos);
        const qsizetype end = RequestHead::findEnd(rest);
        if (end < 0)
            break;
        const RequestHead head = RequestHead::parse(rest.first(end));
        if (head.status != 0)
            break;
        out << head.isHead();
        if (head.contentLength > input.size() - pos - end)
            break;
        pos += end + head.contentLength;
    }
    return out;
}

void checkReply(const QByteArray &input, const Exchange &x)
{
    const QByteArray &r = x.reply;
    if (r.isEmpty())
        return;
    const QList<bool> head = headRequests(input);
    int index = 0;
    qsizetype pos = 0;
    while (pos < r.size()) {
        if (!r.mid(pos, 9).startsWith(QByteArray("HTTP/1.1 ").left(qMin<qsizetype>(9, r.size() - pos))))
            fail(input, x, pos == 0 ? "the reply does not start with \"HTTP/1.1 \""
                                    : "bytes after a complete response are not a response (splitting / wrong Content-Length)");
        const qsizetype end = r.indexOf("\r\n\r\n", pos);
        if (end < 0)
            return; // the header block was still arriving
        const QList<QByteArray> lines = r.mid(pos, end - pos).split('\n');
        qint64 contentLength = -1;
        for (qsizetype i = 0; i < lines.size(); ++i) {
            QByteArray line = lines.at(i);
            if (i + 1 < lines.size()) { // every line but the last ended with CRLF
                if (!line.endsWith('\r'))
                    fail(input, x, "a bare LF in a response header block");
                line.chop(1);
            }
            for (const char c : line)
                if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
                    fail(input, x, "a control character (bare CR?) in a response header line");
            if (i == 0) {
                if (line.size() < 12 || !line.startsWith("HTTP/1.1 ") || !std::isdigit(line[9]) || !std::isdigit(line[10])
                    || !std::isdigit(line[11]))
                    fail(input, x, "malformed status line");
                continue;
            }
            const qsizetype colon = line.indexOf(':');
            if (colon <= 0)
                fail(input, x, "a response header line without a name");
            const QByteArray name = line.left(colon);
            for (const char c : name)
                if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-'))
                    fail(input, x, "a response header name with characters outside [A-Za-z0-9-]");
            if (!knownHeader(name))
                fail(input, x, "an unknown response header: injected from the input?");
            if (name.compare("content-length", Qt::CaseInsensitive) == 0) {
                bool ok = false;
                contentLength = line.mid(colon + 1).trimmed().toLongLong(&ok);
                if (!ok || contentLength < 0)
                    fail(input, x, "an invalid Content-Length in the response");
            }
        }
        if (contentLength < 0)
            return; // a stream: the body runs to the end of the connection
        const bool headersOnly = index < head.size() && head.at(index);
        pos = end + 4 + (headersOnly ? 0 : contentLength);
        ++index;
    }
}

// A first head the guard's check refuses is answered with that status alone, and closed.
void checkRefusal(const QByteArray &input, const Exchange &x)
{
    int status = RequestHead::checkRequestLine(input);
    const qsizetype end = RequestHead::findEnd(input);
    if (status <= 0 && end >= 0 && end <= 16 * 1024)
        status = RequestHead::parse(QByteArrayView(input).first(end)).status;
    if (status <= 0)
        return;
    const QByteArray expected = "HTTP/1.1 " + QByteArray::number(status) + ' ';
    if (!x.reply.startsWith(expected.left(qMin(expected.size(), x.reply.size()))))
        fail(input, x, "a head RequestHead refuses got another answer");
    const qsizetype headEnd = x.reply.indexOf("\r\n\r\n");
    if (headEnd < 0)
        return; // still arriving when the exchange ended
    const qsizetype lengthAt = x.reply.indexOf("\r\nContent-Length: ");
    const qint64 length = lengthAt < 0 ? -1 : x.reply.mid(lengthAt + 18, x.reply.indexOf("\r\n", lengthAt + 2) - lengthAt - 18).toLongLong();
    if (length >= 0 && x.reply.size() > headEnd + 4 + length)
        fail(input, x, "more after the refusal of a bad head (a hidden request answered?)");
    if (length >= 0 && x.reply.size() == headEnd + 4 + length && !x.closed)
        fail(input, x, "the connection stayed open after the refusal of a bad head");
}

// Request prefixes selected by a first byte 0x01-0x0e; any other first byte: the input is sent
// as is. "{id}" is replaced by the known conversation id.
const char *const kPrefixes[] = {
    "GET /api/agent/stream/{id}?cursor=",
    "POST /api/agent/create HTTP/1.1\r\nHost: f\r\n",
    "GET /api/agent/stream/{id} HTTP/1.1\r\nHost: f\r\n",
    "GET /api/agent/{id} HTTP/1.1\r\nHost: f\r\n",
    "OPTIONS /api/agent/create HTTP/1.1\r\nHost: f\r\nOrigin: ",
    "POST /api/agent/{id}/messages HTTP/1.1\r\nHost: f\r\n",
    "POST /api/agent/create HTTP/1.1\r\nHost: f\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n",
    "POST /api/agent/create HTTP/1.1\r\nHost: f\r\nContent-Type: text/plain\r\nContent-Length: {len}\r\n\r\n",
    "GET /api/agent/stream/",
    "POST /api/agent/{id}/cancel HTTP/1.1\r\nHost: f\r\n",
    "GET /api/agent/stream/{id} HTTP/1.1\r\nHost: f\r\nLast-Event-ID: ",
    "GET /healthz HTTP/1.1\r\nHost: f\r\n",
    "GET /api/agent/",
    "POST /api/agent/{id}/messages HTTP/1.1\r\nHost: f\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n",
};

QByteArray buildRequest(const QByteArray &input)
{
    if (input.isEmpty())
        return input;
    const unsigned char selector = static_cast<unsigned char>(input.at(0));
    if (selector < 1 || selector > std::size(kPrefixes))
        return input;
    const QByteArray rest = input.mid(1);
    QByteArray prefix = kPrefixes[selector - 1];
    prefix.replace("{id}", g.knownId);
    prefix.replace("{len}", QByteArray::number(rest.size()));
    return prefix + rest;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (qEnvironmentVariableIntValue("FUZZ_VERBOSE") != 1)
        QLoggingCategory::setFilterRules(QStringLiteral("*.debug=false\n*.info=false\n*.warning=false"));
    g.app = new QCoreApplication(*argc, *argv);
    startRedis();

    Config config;
    config.redisConnectionString = QStringLiteral("unix://") + g.dir->filePath(QStringLiteral("redis.sock"));
    config.redisExplicit = true;
    config.port = 0;
    config.demoPaceMs = 0;
    config.ttlMs = 5 * 60 * 1000;
    g.backend = new Backend(config);
    bool ready = false;
    QString failure;
    QObject::connect(g.backend, &Backend::ready, [&] { ready = true; });
    QObject::connect(g.backend, &Backend::failed, [&](const QString &why) { failure = why; });
    g.backend->start();
    spinUntil([&] { return ready || !failure.isEmpty(); }, 15000);
    if (!ready)
        die(QStringLiteral("the backend did not get ready: %1").arg(failure.isEmpty() ? QStringLiteral("timeout") : failure));
    g.port = g.backend->port();

    // One real conversation, for the prefixes that name an existing id.
    const Exchange created = exchange("POST /api/agent/create HTTP/1.1\r\nHost: f\r\nContent-Type: text/plain\r\n"
                                      "Accept: application/json\r\nContent-Length: 16\r\n\r\nPlan a trip, 2d.",
                                      5000, 2000, 5000);
    const qsizetype at = created.reply.toLower().indexOf("\r\nx-conversation-id: ");
    if (at < 0)
        die(QStringLiteral("could not create a conversation: %1").arg(QString::fromUtf8(escaped(created.reply))));
    const qsizetype start = at + 21;
    g.knownId = created.reply.mid(start, created.reply.indexOf("\r\n", start) - start);
    std::fprintf(stderr, "fuzz_http_handlers: backend on port %d, conversation %s\n", g.port, g.knownId.constData());
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const bool trace = qEnvironmentVariableIntValue("FUZZ_HTTP_TRACE") == 1;
    const QByteArray input(reinterpret_cast<const char *>(data), qsizetype(size));
    const QByteArray request = buildRequest(input);
    const bool completeHead = request.contains("\r\n\r\n") || request.contains("\n\n");
    const Exchange x = exchange(request, completeHead ? kFirstByteMs : kQuietMs, kQuietMs, kDeadlineMs);
    if (trace)
        std::fprintf(stderr, ">>> %s\n<<< %s%s\n", escaped(request, 300).constData(), escaped(x.reply, 600).constData(),
                     x.closed ? " [closed]" : "");
    checkReply(request, x);
    checkRefusal(request, x);
    return 0;
}
