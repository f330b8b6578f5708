#pragma once

#include <QByteArray>
#include <QNetworkRequest>
#include <QString>
#include <QUrl>

// Where the Agent Streams API lives and how to talk to it: builds the QNetworkRequests of
// the wire protocol (base URL may carry a path prefix, e.g. behind a reverse proxy) and adds
// `Authorization: Bearer <key>` when an API key is set. A value type; no I/O.
class ApiEndpoint
{
public:
    ApiEndpoint() = default;
    explicit ApiEndpoint(const QUrl &baseUrl, const QString &apiKey = {});

    bool isValid() const { return m_base.isValid() && !m_base.isEmpty(); }
    QUrl baseUrl() const { return m_base; }
    QString apiKey() const { return m_apiKey; }

    QNetworkRequest create() const;                                        // POST, SSE
    QNetworkRequest messages(const QByteArray &id) const;                  // POST, SSE: the next turn
    QNetworkRequest stream(const QByteArray &id, const QByteArray &cursor) const; // GET, SSE
    QNetworkRequest status(const QByteArray &id) const;                    // GET, JSON
    QNetworkRequest cancel(const QByteArray &id) const;                    // POST, JSON

    QUrl url(const QString &path, const QByteArray &query = {}) const;
    // Reads a readable message from an error body ({"error":{"code","message"}} or text).
    static QString errorMessage(const QByteArray &body, QString *code = nullptr);

private:
    QNetworkRequest request(const QUrl &url, const QByteArray &accept) const;
    QUrl agentUrl(const QByteArray &id, const QString &suffix = {}) const; // /api/agent/{id}{suffix}
    QUrl m_base;
    QString m_apiKey;
};
