#include "streams/WakeupSubscriber.h"

#include "redis/RedisConnection.h"
#include "redis/RedisRouter.h"
#include "streams/StreamEntry.h"

#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcWakeups, "agentstreams.streams.wakeups")

namespace {
constexpr int kRetryMs = 100; // an SSUBSCRIBE refused (MOVED while a slot moves): placed again after this

// "agent-streams:wake:{<id>}" -> "<id>"; empty for any other channel.
QByteArray conversationOf(QByteArrayView channel)
{
    const QByteArrayView prefix(StreamKeys::kWakePrefix);
    if (!channel.startsWith(prefix) || !channel.endsWith('}'))
        return {};
    return channel.sliced(prefix.size(), channel.size() - prefix.size() - 1).toByteArray();
}
} // namespace

WakeupSubscriber::WakeupSubscriber(RedisRouter *router, QObject *parent)
    : QObject(parent)
    , m_router(router)
{
    connect(m_router, &RedisRouter::topologyChanged, this, &WakeupSubscriber::onTopologyChanged);
    onTopologyChanged(); // a connection to every primary from the start: a fixed number per node
}

// The connections are children: deleting them drops their callbacks without calling them.
WakeupSubscriber::~WakeupSubscriber() = default;

bool WakeupSubscriber::isAvailable() const
{
    const QList<int> primaries = m_router->primaries();
    if (primaries.isEmpty())
        return false;
    for (int node : primaries) {
        const RedisConnection *c = m_nodes.value(node);
        if (!c || !c->isConnected())
            return false;
    }
    return true;
}

QList<RedisConnection *> WakeupSubscriber::connections() const
{
    return m_nodes.values();
}

int WakeupSubscriber::subscribedCount() const
{
    int n = 0;
    for (const Follow &f : m_follows)
        n += f.confirmed ? 1 : 0;
    return n;
}

RedisConnection *WakeupSubscriber::nodeConnection(int node)
{
    if (node < 0 || node >= m_router->table().nodes().size())
        return nullptr;
    if (RedisConnection *c = m_nodes.value(node))
        return c;
    const SlotTable::Node &where = m_router->table().nodes().at(node);
    auto *c = new RedisConnection(m_router->configFor(node), QStringLiteral("wakeups@%1:%2").arg(where.host).arg(where.port), this);
    c->setPushHandler([this, node](const RedisReply &message) { onPush(node, message); });
    connect(c, &RedisConnection::connected, this, [this, node] { onConnected(node); });
    connect(c, &RedisConnection::disconnected, this, [this, node] { onDisconnected(node); });
    m_nodes.insert(node, c);
    c->open();
    return c;
}

void WakeupSubscriber::onTopologyChanged()
{
    const QList<int> primaries = m_router->primaries();
    for (int node : primaries)
        nodeConnection(node);
    const QList<QByteArray> ids = m_follows.keys();
    for (const QByteArray &id : ids)
        place(id);
    // A node that serves no slot any more (failed over, emptied by resharding) holds no
    // channel: its connection goes, so that the count stays one per primary.
    for (auto it = m_nodes.begin(); it != m_nodes.end();) {
        if (primaries.contains(it.key())) {
            ++it;
            continue;
        }
        it.value()->deleteLater(); // we may be inside one of its callbacks
        it.value()->disconnect(this);
        it.value()->setPushHandler({});
        it = m_nodes.erase(it);
    }
    Q_EMIT availabilityChanged();
}

void WakeupSubscriber::follow(const QByteArray &conversationId)
{
    if (m_follows.contains(conversationId))
        return;
    m_follows.insert(conversationId, Follow{});
    place(conversationId);
}

void WakeupSubscriber::unfollow(const QByteArray &conversationId)
{
    auto it = m_follows.find(conversationId);
    if (it == m_follows.end())
        return;
    RedisConnection *c = m_nodes.value(it->node);
    if (c && c->isConnected() && (it->pending || it->confirmed))
        c->command({"SUNSUBSCRIBE", StreamKeys::wake(conversationId)});
    m_follows.erase(it);
}

void WakeupSubscriber::place(const QByteArray &conversationId)
{
    auto it = m_follows.find(conversationId);
    if (it == m_follows.end())
        return;
    Follow &f = it.value();
    const QByteArray channel = StreamKeys::wake(conversationId);
    const int target = m_router->nodeOf(channel);
    if (target == f.node && f.node >= 0)
        return; // in place, or waiting for its connection
    if (RedisConnection *old = m_nodes.value(f.node); old && old->isConnected() && (f.pending || f.confirmed))
        old->command({"SUNSUBSCRIBE", channel});
    f.node = target;
    f.pending = false;
    f.confirmed = false;
    ++f.attempt; // a reply still on its way from the old node no longer counts
    RedisConnection *c = nodeConnection(target);
    if (c && c->isConnected())
        subscribe(conversationId, f);
    // else: onConnected() subscribes; no primary for the slot: the next topologyChanged places it
}

void WakeupSubscriber::subscribe(const QByteArray &conversationId, Follow &f)
{
    RedisConnection *c = m_nodes.value(f.node);
    if (!c || f.pending)
        return;
    f.pending = true;
    f.confirmed = false;
    const quint64 attempt = f.attempt = m_nextAttempt++;
    c->command({"SSUBSCRIBE", StreamKeys::wake(conversationId)}, [this, conversationId, attempt](const RedisReply &, const RedisError &error) {
        auto it = m_follows.find(conversationId);
        if (it == m_follows.end() || it->attempt != attempt)
            return; // unfollowed or placed elsewhere meanwhile
        it->pending = false;
        if (error.isError()) {
            if (error.isConnectionError())
                return; // onConnected() subscribes again
            // MOVED (the slot left that node) or CLUSTERDOWN: place it again once the table says where.
            qCInfo(lcWakeups).noquote() << "SSUBSCRIBE for" << conversationId << "refused:" << error.message << "- placing it again";
            m_router->refresh();
            retryLater(conversationId);
            return;
        }
        it->confirmed = true;
        Q_EMIT subscribed(conversationId);
    });
}

void WakeupSubscriber::retryLater(const QByteArray &conversationId)
{
    auto it = m_follows.find(conversationId);
    if (it == m_follows.end())
        return;
    it->node = -1; // nowhere: the next place() subscribes again even on the same node
    const quint64 attempt = it->attempt;
    QTimer::singleShot(kRetryMs, this, [this, conversationId, attempt] {
        auto again = m_follows.find(conversationId);
        if (again != m_follows.end() && again->attempt == attempt && again->node < 0)
            place(conversationId);
    });
}

void WakeupSubscriber::onConnected(int node)
{
    for (auto it = m_follows.begin(); it != m_follows.end(); ++it)
        if (it->node == node && !it->pending && !it->confirmed)
            subscribe(it.key(), it.value());
    Q_EMIT availabilityChanged();
}

void WakeupSubscriber::onDisconnected(int node)
{
    // The server forgot this connection's subscriptions: made again on reconnect, or where the
    // topology says once the router has seen the failover.
    for (Follow &f : m_follows) {
        if (f.node == node) {
            f.pending = false;
            f.confirmed = false;
        }
    }
    m_router->refresh();
    Q_EMIT availabilityChanged();
}

// ["smessage", channel, lastId] or the server's own ["sunsubscribe", channel, count].
void WakeupSubscriber::onPush(int node, const RedisReply &message)
{
    if (!message.isArray() || message.elements.size() < 2)
        return;
    const QByteArray &kind = message.elements.at(0).str;
    const QByteArray id = conversationOf(message.elements.at(1).str);
    auto it = m_follows.find(id);
    if (it == m_follows.end())
        return;
    if (kind == "smessage" && message.elements.size() >= 3) {
        Q_EMIT woken(id, message.elements.at(2).str);
    } else if (kind == "sunsubscribe" && it->node == node && !it->pending) {
        // The channel's slot left this node (resharding): subscribe where it is now.
        qCInfo(lcWakeups).noquote() << "the server dropped the wake-up channel of" << id << "(its slot moved)";
        it->confirmed = false;
        m_router->refresh();
        retryLater(id);
    }
}
