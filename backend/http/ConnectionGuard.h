#pragma once

#include "http/GuardedTcpServer.h"
#include "http/HttpUtil.h"
#include "http/RequestHead.h"

#include <QObject>
#include <QTimer>

class QTcpSocket;

// Per-connection state of the request guard, a child of its socket (GuardedTcpServer puts one
// on every accepted connection). Its readyRead slot is connected before QtHttpServer's, so it
// sees every byte first; it only peeks while a head is arriving and accumulates the head itself
// (QtHttpServer reads each piece inside a transaction, so a later peek starts after it). When the
// head is complete it is checked (RequestHead), then the key and the body length; a refusal is
// written here, QtHttpServer's slot is disconnected in the same signal emission (it never parses
// those bytes), and the connection is closed without reading the body.
//
// After a request is dispatched (ApiServer calls GuardedTcpServer::requestHandled) the guard
// waits for the socket to drain what was written since (every non-streaming response is written
// in one go, synchronously or from one callback): then the response is complete, and it closes
// the connection if the request asked for that, else starts the idle deadline. The deadline
// (requestTimeoutMs) ends a connection on which a request started but did not arrive with 408,
// and an idle one silently. A streaming response (StreamResponse) owns the socket until it closes.
class ConnectionGuard : public QObject
{
public:
    ConnectionGuard(QTcpSocket *socket, const GuardedTcpServer::Limits &limits);
    static ConnectionGuard *of(QTcpSocket *socket);

    void requestDispatched();
    void streamingStarted();
    GuardedTcpServer::ResponseMode responseMode() const;

private:
    enum class State {
        Head,    // a head is arriving (or the connection is idle)
        Body,    // the head passed; QtHttpServer reads the body and dispatches
        Last,    // a request that closes the connection was dispatched: nothing more is read
        Refused, // answered by the guard: discarding input until closed
    };
    struct Request
    {
        bool headersOnly = false;
        bool keepAlive = true;
        int minorVersion = 1;
    };

    void inspect();
    void checkHead(const RequestHead &head);
    void onBytesWritten(qint64 bytes);
    void onDeadline();
    void refuse(int status, const QByteArray &code, const QString &message, const RequestHead *head = nullptr,
                const HeaderPairs &extra = {});
    // Ends the connection after what was written: FIN, then input is discarded until the client
    // closes or kLingerMs pass, so that a client still sending a body reads our answer instead of
    // a reset (closing with unread input makes the kernel send RST, which can discard it).
    void closeAfterWrite();
    void discardInput();

    QTcpSocket *m_socket;
    GuardedTcpServer::Limits m_limits;
    QTimer m_deadline;
    QTimer m_linger;
    State m_state = State::Head;
    QByteArray m_head;         // the head so far (at most maxHeaderBytes + 4)
    qsizetype m_searched = 0;  // m_head bytes already searched for the end of the head
    bool m_lineChecked = false;
    bool m_requestStarted = false; // bytes of a request not dispatched yet have arrived
    Request m_current;             // the head that passed, until it is dispatched
    Request m_dispatched;          // the request being answered
    bool m_awaitingResponse = false;
    qint64 m_olderBytes = 0;       // unsent bytes of earlier responses when the request was dispatched
    bool m_closing = false;
    bool m_finSent = false;
    bool m_inputDiscarded = false;
    bool m_tls = false;
    qint64 m_discarded = 0;
};
