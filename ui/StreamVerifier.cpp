#include "StreamVerifier.h"

#include <QHash>
#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkReply>

Q_LOGGING_CATEGORY(lcVerify, "agentstreams.ui.verify")

StreamVerifier::StreamVerifier(QNetworkAccessManager *nam, const ApiEndpoint &endpoint, QObject *parent)
    : QObject(parent)
    , m_nam(nam)
    , m_endpoint(endpoint)
{
    m_timeout.setSingleShot(true);
    m_timeout.setInterval(60000);
    connect(&m_timeout, &QTimer::timeout, this, [this] { conclude(false, tr("the replay timed out")); });
}

StreamVerifier::~StreamVerifier()
{
    if (m_reply) {
        QObject::disconnect(m_reply, nullptr, this, nullptr);
        m_reply->abort();
        m_reply->deleteLater();
    }
}

void StreamVerifier::start(const QByteArray &conversationId, const ReceivedEvents &received)
{
    m_received = received;
    for (const ReceivedEvent &e : received) {
        const EventId id = EventId::parse(e.id);
        if (id.valid && m_cursor < id)
            m_cursor = id;
    }
    if (!m_cursor.valid) {
        QTimer::singleShot(0, this, [this] { conclude(false, tr("nothing received yet")); });
        return;
    }
    m_reply = m_nam->get(m_endpoint.stream(conversationId, QByteArray()));
    connect(m_reply, &QNetworkReply::readyRead, this, &StreamVerifier::onReadyRead);
    connect(m_reply, &QNetworkReply::finished, this, &StreamVerifier::onFinished);
    m_timeout.start();
}

void StreamVerifier::onReadyRead()
{
    if (m_done || !m_reply)
        return;
    const int status = m_reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status >= 300) {
        m_errorBody += m_reply->readAll();
        return;
    }
    for (const SseEvent &e : m_parser.feed(m_reply->readAll())) {
        const EventId id = EventId::parse(e.id);
        if (id.valid && m_cursor < id) {
            conclude(true);
            return;
        }
        m_replay.append({e.id, e.event, e.data});
        // Not at the first done/error: a conversation of several turns has one per turn.
        if (id == m_cursor) {
            conclude(true);
            return;
        }
    }
}

void StreamVerifier::onFinished()
{
    if (m_done || !m_reply)
        return;
    onReadyRead();
    if (m_done)
        return;
    const int status = m_reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status >= 300)
        conclude(false, tr("HTTP %1: %2").arg(status).arg(ApiEndpoint::errorMessage(m_errorBody + m_reply->readAll())));
    else if (m_reply->error() != QNetworkReply::NoError)
        conclude(false, m_reply->errorString());
    else
        conclude(false, tr("the replay ended before the cursor"));
}

void StreamVerifier::conclude(bool reachedCursor, const QString &failure)
{
    if (m_done)
        return;
    m_done = true;
    m_timeout.stop();
    if (m_reply) {
        QObject::disconnect(m_reply, nullptr, this, nullptr);
        m_reply->abort();
        m_reply->deleteLater();
        m_reply = nullptr;
    }
    VerifyResult r;
    if (reachedCursor) {
        r = compare(m_replay, m_received);
    } else {
        r.summary = tr("Could not verify: %1").arg(failure);
    }
    qCInfo(lcVerify).noquote() << r.summary;
    Q_EMIT finished(r);
}

VerifyResult StreamVerifier::compare(const ReceivedEvents &replay, const ReceivedEvents &received)
{
    VerifyResult r;
    r.completed = true;
    r.compared = int(replay.size());
    QHash<QByteArray, qsizetype> byId;
    for (qsizetype i = 0; i < received.size(); ++i)
        byId.insert(received.at(i).id, i);
    QByteArray replayText;
    QByteArray shownText;
    QByteArrayList missing;
    QByteArrayList different;
    for (const ReceivedEvent &e : replay) {
        if (e.type == "message")
            replayText += e.data;
        const auto it = byId.constFind(e.id);
        if (it == byId.constEnd()) {
            ++r.missing;
            missing += e.id;
            continue;
        }
        const ReceivedEvent &mine = received.at(*it);
        if (mine.type != e.type || mine.data != e.data) {
            ++r.mismatched;
            different += e.id;
        }
        byId.erase(it);
    }
    r.extra = int(byId.size());
    QByteArrayList extra;
    for (const ReceivedEvent &e : received)
        if (byId.contains(e.id))
            extra += e.id;
    for (const QByteArrayList *ids : {&missing, &extra, &different})
        for (const QByteArray &id : *ids)
            if (r.differingIds.size() < VerifyResult::kMaxDifferingIds)
                r.differingIds += id;
    for (const ReceivedEvent &e : received)
        if (e.type == "message")
            shownText += e.data;
    r.replayChars = QString::fromUtf8(replayText).size();
    r.shownChars = QString::fromUtf8(shownText).size();
    const bool sameText = replayText == shownText;
    r.ok = sameText && r.missing == 0 && r.extra == 0 && r.mismatched == 0;
    if (r.ok) {
        r.summary = tr("Verified: %1 events, %2 characters identical to a full replay").arg(r.compared).arg(r.replayChars);
    } else {
        r.summary = tr("MISMATCH: %1 missing, %2 extra, %3 different; text %4 (replay %5 chars, shown %6)")
                        .arg(r.missing)
                        .arg(r.extra)
                        .arg(r.mismatched)
                        .arg(sameText ? tr("equal") : tr("differs"))
                        .arg(r.replayChars)
                        .arg(r.shownChars);
    }
    return r;
}
