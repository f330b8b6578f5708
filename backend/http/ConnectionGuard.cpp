#include "http/ConnectionGuard.h"

#include "Metrics.h"
#include "http/AccessControl.h"
#include "http/ContentNegotiation.h"
#include "http/HttpUtil.h"
#include "http/core/Reply.h"

#include <QLoggingCategory>
#include <QSslSocket>
#include <QTcpSocket>
#include <QUrl>
#include <QUrlQuery>

#include <sys/socket.h>

Q_DECLARE_LOGGING_CATEGORY(lcHttp)

namespace {
const char kObjectName[] = "agentstreams.guard";
constexpr int kLingerMs = 2000;
constexpr qint64 kLingerBytes = 4 << 20;

bool isStreaming(const QTcpSocket *socket)
{
    return socket->property("agentstreams.streaming").toBool();
}

QByteArray codeFor(int status)
{
    switch (status) {
    case 408: return "timeout";
    case 411: return "length_required";
    case 413: return "payload_too_large";
    case 431: return "headers_too_large";
    case 501: return "not_implemented";
    case 505: return "version_not_supported";
    default: return "bad_request";
    }
}
} // namespace

ConnectionGuard::ConnectionGuard(QTcpSocket *socket, const GuardedTcpServer::Limits &limits)
    : QObject(socket)
    , m_socket(socket)
    , m_limits(limits)
    , m_tls(qobject_cast<QSslSocket *>(socket) != nullptr)
{
    setObjectName(QLatin1String(kObjectName));
    m_deadline.setSingleShot(true);
    m_deadline.setInterval(limits.requestTimeoutMs);
    connect(&m_deadline, &QTimer::timeout, this, &ConnectionGuard::onDeadline);
    m_linger.setSingleShot(true);
    m_linger.setInterval(kLingerMs);
    connect(&m_linger, &QTimer::timeout, this, [this] { m_socket->abort(); });
    // Connected before QtHttpServer connects its own slot (it calls nextPendingConnection()
    // first): this one runs first on every readyRead.
    connect(socket, &QTcpSocket::readyRead, this, &ConnectionGuard::inspect);
    connect(socket, &QTcpSocket::bytesWritten, this, &ConnectionGuard::onBytesWritten);
    m_deadline.start();
}

ConnectionGuard *ConnectionGuard::of(QTcpSocket *socket)
{
    return socket->findChild<ConnectionGuard *>(QLatin1String(kObjectName), Qt::FindDirectChildrenOnly);
}

void ConnectionGuard::inspect()
{
    if (isStreaming(m_socket)) {
        m_deadline.stop();
        return;
    }
    if (m_state != State::Head)
        return; // Body: QtHttpServer reads a body whose length passed; Last/Refused: input is discarded
    const qint64 available = m_socket->bytesAvailable();
    if (available <= 0)
        return;
    if (!m_requestStarted) {
        m_requestStarted = true;
        if (!m_deadline.isActive())
            m_deadline.start();
    }
    // QtHttpServer reads whatever is there while a head is incomplete, inside a transaction: the
    // next peek starts after it, so the head is put together here. peek(n) allocates n bytes: ask
    // for what is there, not for the limit.
    m_head += m_socket->peek(qMin(available, m_limits.maxHeaderBytes + 4 - m_head.size()));
    if (!m_lineChecked) {
        QByteArray why;
        const int status = RequestHead::checkRequestLine(m_head, &why);
        if (status > 0) {
            refuse(status, codeFor(status), QString::fromUtf8(why));
            return;
        }
        m_lineChecked = status == 0;
    }
    const qsizetype end = RequestHead::findEnd(m_head, m_searched);
    if (end < 0) {
        m_searched = m_head.size();
        if (m_head.size() > m_limits.maxHeaderBytes)
            refuse(431, codeFor(431), QStringLiteral("the request headers are larger than the limit"));
        return;
    }
    checkHead(RequestHead::parse(QByteArrayView(m_head).first(end)));
}

void ConnectionGuard::checkHead(const RequestHead &head)
{
    if (head.status != 0) {
        refuse(head.status, codeFor(head.status), QString::fromUtf8(head.error), &head);
        return;
    }
    if (head.contentLength > m_limits.maxBodyBytes) {
        refuse(413, codeFor(413), QStringLiteral("the request body is larger than the limit"), &head);
        return;
    }
    // The same rule as ApiServer's, decided before any body byte is read.
    if (m_limits.access && m_limits.access->enabled() && head.method != "OPTIONS") {
        const QUrl url = QUrl::fromEncoded(head.target);
        const QString path = url.path(QUrl::FullyEncoded);
        if (path != QLatin1String("/healthz") && path != QLatin1String("/readyz")) {
            const QByteArray token = QUrlQuery(url).queryItemValue(QStringLiteral("access_token"), QUrl::FullyDecoded).toUtf8();
            if (!m_limits.access->authenticate(head.field("Authorization"), token)) {
                refuse(401, "unauthorized", QStringLiteral("a valid API key is required: send Authorization: Bearer <key>"), &head,
                       {{"WWW-Authenticate", "Bearer realm=\"agent-streams\""}});
                return;
            }
        }
    }
    m_current = Request{head.isHead(), head.keepAlive, head.minorVersion};
    m_state = State::Body;
    m_head.clear();
    m_searched = 0;
    m_lineChecked = false;
}

void ConnectionGuard::requestDispatched()
{
    if (m_state != State::Body) {
        // QtHttpServer completed a request this guard did not pass: never expected; answer it
        // and end the connection rather than read on out of step.
        qCWarning(lcHttp) << "a request was dispatched that the request guard did not check; closing after it";
        m_current.keepAlive = false;
    }
    m_dispatched = m_current;
    m_current = Request{};
    m_head.clear();
    m_searched = 0;
    m_lineChecked = false;
    m_requestStarted = false;
    m_deadline.stop(); // until the response is out: the server's latency is not the client's
    m_awaitingResponse = true;
    m_olderBytes = m_socket->bytesToWrite();
    if (m_dispatched.keepAlive) {
        m_state = State::Head;
    } else {
        // A client that sent close sends nothing after it (RFC 9112 9.6): whatever comes is
        // not parsed.
        m_state = State::Last;
        discardInput();
    }
}

void ConnectionGuard::streamingStarted()
{
    // A streaming response owns the socket until it closes: no deadline. (An armed timer per
    // open stream would also make every timer start in the process cost O(open streams): Qt
    // keeps active timers in one sorted list.)
    m_deadline.stop();
    m_awaitingResponse = false;
}

GuardedTcpServer::ResponseMode ConnectionGuard::responseMode() const
{
    GuardedTcpServer::ResponseMode mode;
    mode.headersOnly = m_dispatched.headersOnly;
    mode.close = !m_dispatched.keepAlive;
    mode.http10KeepAlive = m_dispatched.keepAlive && m_dispatched.minorVersion == 0;
    return mode;
}

void ConnectionGuard::onBytesWritten(qint64 bytes)
{
    if (m_closing) {
        closeAfterWrite();
        return;
    }
    if (!m_awaitingResponse || isStreaming(m_socket))
        return;
    if (m_olderBytes > 0) { // an earlier response draining (pipelining)
        m_olderBytes -= bytes;
        if (m_olderBytes >= 0)
            return;
        m_olderBytes = 0;
    }
    if (m_socket->bytesToWrite() > 0)
        return;
    // The response to the dispatched request is out.
    m_awaitingResponse = false;
    if (!m_dispatched.keepAlive)
        closeAfterWrite();
    else if (!m_deadline.isActive())
        m_deadline.start(); // idle from now on; the next request must arrive in time
}

void ConnectionGuard::onDeadline()
{
    if (isStreaming(m_socket) || m_closing)
        return;
    if (m_awaitingResponse) {
        m_deadline.start(); // the request arrived; its answer is on its way
        return;
    }
    if (m_requestStarted) {
        refuse(408, codeFor(408), QStringLiteral("the request did not arrive in time"));
        return;
    }
    // Idle keep-alive: nothing was asked, so nothing is answered (RFC 9112 9.5: no unsolicited
    // response on a connection being closed for inactivity).
    qCDebug(lcHttp) << "closing an idle connection";
    closeAfterWrite();
}

void ConnectionGuard::refuse(int status, const QByteArray &code, const QString &message, const RequestHead *head,
                             const HeaderPairs &extra)
{
    Metrics::instance().httpResponse(status);
    qCInfo(lcHttp).noquote() << "refusing a request:" << status << message;
    m_state = State::Refused;
    // Nobody else reads this socket any more: QtHttpServer's slot, next in this very emission,
    // is disconnected before it runs and never parses what is there.
    discardInput();
    // /v1/* is OpenAI's API family: its clients read OpenAI's error shape.
    const bool openAi = head && (head->target.startsWith("/v1/") || head->target == "/v1");
    const bool json = openAi || (head && wantsJsonErrors(head->field("Accept")));
    HeaderPairs headers;
    if (head)
        HttpUtil::corsHeaders(head->field("Origin"), m_limits.allowedOrigins, &headers);
    headers += extra;
    headers.emplace_back("Connection", "close");
    const QByteArray body = openAi ? Reply::openAiErrorBody(status, status == 401 ? QByteArray("invalid_api_key") : code, message, {})
                                   : HttpUtil::errorBody(code, message, json);
    QByteArray response = HttpUtil::rawResponse(status, HttpUtil::errorContentType(json), body, headers);
    if (head && head->isHead())
        response.chop(body.size());
    m_socket->write(response);
    closeAfterWrite();
}

void ConnectionGuard::discardInput()
{
    if (!m_inputDiscarded) {
        m_inputDiscarded = true;
        QObject::disconnect(m_socket, &QTcpSocket::readyRead, nullptr, nullptr);
        // QtHttpServer may have left a transaction open on a partial head: close it so that
        // skipped bytes are freed.
        if (m_socket->isTransactionStarted())
            m_socket->commitTransaction();
        connect(m_socket, &QTcpSocket::readyRead, this, &ConnectionGuard::discardInput);
    }
    const qint64 available = m_socket->bytesAvailable();
    if (available > 0)
        m_discarded += m_socket->skip(available);
    if (m_discarded > kLingerBytes)
        m_socket->abort(); // a client that keeps sending after our answer
}

void ConnectionGuard::closeAfterWrite()
{
    if (!m_closing) {
        m_closing = true;
        m_deadline.stop();
        discardInput();
        m_linger.start();
        if (m_tls)
            m_socket->disconnectFromHost(); // TLS ends with close_notify; no half-close
    }
    if (m_tls || m_finSent || m_socket->bytesToWrite() > 0 || m_socket->state() != QAbstractSocket::ConnectedState)
        return;
    // Everything is written: send FIN, keep reading (and dropping) until the client closes.
    m_finSent = true;
    ::shutdown(int(m_socket->socketDescriptor()), SHUT_WR);
}
