#pragma once

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QPair>
#include <QTcpSocket>

// A raw-socket HTTP/1.1 client for tests: sends one request, parses the status line, headers
// and (for text/event-stream) SSE events as they arrive. It is not QNetworkAccessManager on
// purpose: tests see exactly the bytes the server wrote.
//
//   HttpClient c;
//   c.request(port, "GET", "/api/agent/stream/" + id, {{"Accept", "text/event-stream"}});
//   QTRY_VERIFY(c.isFinished());
class HttpClient : public QObject
{
    Q_OBJECT
public:
    struct Event
    {
        QByteArray id;
        QByteArray event; // "message" when absent
        QByteArray data;  // data lines joined with \n
    };

    explicit HttpClient(QObject *parent = nullptr);
    ~HttpClient() override;

    void request(quint16 port, const QByteArray &method, const QByteArray &target,
                 const QList<QPair<QByteArray, QByteArray>> &headers = {}, const QByteArray &body = {});
    // Sends raw bytes as-is (pipelining, malformed requests).
    void sendRaw(quint16 port, const QByteArray &bytes);
    void abort(); // drop the connection like a network loss
    // Paused: takes no more bytes from the socket, so the kernel's buffers fill up and the
    // server sees a client that reads too slowly. Unpaused: reads on.
    void setPaused(bool paused);

    bool isFinished() const { return m_finished; }
    bool headersDone() const { return m_headersDone; }
    int status() const { return m_status; }
    QByteArray header(const QByteArray &name) const;
    QByteArray body() const { return m_body; }   // everything after the header block
    QByteArray raw() const { return m_raw; }
    const QList<Event> &events() const { return m_events; }
    QByteArray lastEventId() const { return m_events.isEmpty() ? QByteArray() : m_events.last().id; }
    int retryMs() const { return m_retry; }
    int comments() const { return m_comments; }

    // Concatenated data of `message` events (the agent's text as an SSE client rebuilds it).
    QByteArray messageText() const;

    // A full replay of a conversation from its start (SSE), read to its end (at most 30 s).
    static QList<Event> replay(quint16 port, const QByteArray &conversationId);

    // Pure SSE parser, shared with tests of the framing: feeds bytes, returns complete events.
    static QList<Event> parseSse(const QByteArray &stream, int *retry = nullptr, int *comments = nullptr);

Q_SIGNALS:
    void eventReceived(const HttpClient::Event &event);
    void finished();

private:
    void onReadyRead();
    void parseEvents();
    QTcpSocket m_socket;
    bool m_paused = false;
    QByteArray m_raw;
    QByteArray m_body;
    qsizetype m_sseOffset = 0;
    QList<QPair<QByteArray, QByteArray>> m_headers;
    QList<Event> m_events;
    int m_status = 0;
    int m_retry = -1;
    int m_comments = 0;
    bool m_headersDone = false;
    bool m_finished = false;
};
