#pragma once

#include "redis/RedisConfig.h"

#include <QHash>
#include <QList>
#include <QObject>
#include <QTimer>

class RedisConnection;
class RedisRouter;
struct RedisReply;

// Wake-ups for live readers on a Redis Cluster, where one blocking XREAD cannot span slots:
// ONE subscriber connection per primary, whatever the number of streams or readers, carrying
// `SSUBSCRIBE agent-streams:wake:{<conversation>}` for each conversation followed. The append
// scripts SPUBLISH a stream's new last id on that channel (cluster mode only).
//
// A channel lives on the primary of its slot: the subscription moves when the slot does
// (topologyChanged, or the server's own `sunsubscribe` when the slot leaves a node), and is
// made again after a reconnect or a failover. Pub/sub is fire-and-forget: every time a
// subscription is (re)confirmed, `subscribed` says "read from your cursor now", since what was
// appended before it was announced to nobody. The owner still polls slowly for wake-ups lost
// in transit.
//
//   auto *w = new WakeupSubscriber(router, this);  // router: ready, cluster mode
//   connect(w, &WakeupSubscriber::subscribed, ...);       // read the stream from its cursor
//   connect(w, &WakeupSubscriber::woken, ...);            // new entries up to lastId
//   w->follow(conversationId); ... w->unfollow(conversationId);
class WakeupSubscriber : public QObject
{
    Q_OBJECT
public:
    explicit WakeupSubscriber(RedisRouter *router, QObject *parent = nullptr);
    ~WakeupSubscriber() override;

    void follow(const QByteArray &conversationId);
    void unfollow(const QByteArray &conversationId);
    // A subscriber connection to every primary, all of them up.
    bool isAvailable() const;
    QList<RedisConnection *> connections() const;
    int followedCount() const { return int(m_follows.size()); }
    // Confirmed subscriptions (for tests and gauges).
    int subscribedCount() const;

Q_SIGNALS:
    void subscribed(const QByteArray &conversationId);
    void woken(const QByteArray &conversationId, const QByteArray &lastId);
    void availabilityChanged();

private:
    struct Follow
    {
        int node = -1;         // where the channel is (being) subscribed; -1 = nowhere yet
        bool pending = false;  // SSUBSCRIBE sent, no reply yet
        bool confirmed = false;
        quint64 attempt = 0;   // matches replies to the latest SSUBSCRIBE
    };
    void onTopologyChanged();
    // Subscribes where the channel's slot is now (moving it off its old node).
    void place(const QByteArray &conversationId);
    void subscribe(const QByteArray &conversationId, Follow &f);
    void onPush(int node, const RedisReply &message);
    void onConnected(int node);
    void onDisconnected(int node);
    RedisConnection *nodeConnection(int node);
    void retryLater(const QByteArray &conversationId);

    RedisRouter *m_router;
    QHash<int, RedisConnection *> m_nodes; // by the router's node index; primaries only
    QHash<QByteArray, Follow> m_follows;   // by conversation id
    quint64 m_nextAttempt = 1;
};
