#pragma once

#include "redis/RedisConfig.h"
#include "redis/RedisConnection.h"
#include "redis/SlotTable.h"

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QTimer>
#include <memory>

// A Lua script as the router sends it: EVALSHA by its SHA1, and SCRIPT LOAD of the source on
// a node that answers NOSCRIPT (a cluster's script cache is per node and not replicated).
struct RedisScript
{
    QByteArray source;
    QByteArray sha; // lowercase hex SHA1 of source
    static RedisScript fromSource(const QByteArray &source);
};

// One role's connections (e.g. "query") to a Redis deployment: one server, or every primary of
// a Redis Cluster, one connection per primary whatever the number of callers.
//
//   auto *r = new RedisRouter(cfg, "query", this);
//   connect(r, &RedisRouter::ready, ...);       // the mode is known and the slot table loaded
//   r->open();
//   r->command(key, {"HGETALL", key}, [](const RedisReply &reply, const RedisError &e) {...});
//
// Mode: cluster=true|false from the connection string, else INFO cluster of the first node
// that answers (cluster_enabled:1). One server owns every slot of a one-node table, so both
// modes take the same path. A command goes to the primary of its key's slot; the router
// follows MOVED (the slot is updated at once, the table refreshed from CLUSTER SLOTS, at most
// every kRefreshMs) and ASK (ASKING + the command on the target), backs off and sends again on
// TRYAGAIN / CLUSTERDOWN / no primary for the slot / a node not connected yet, for at most
// retryBudgetMs (then the error reaches the caller, with how long it was retried), and loads a
// script where NOSCRIPT says it is missing. An error after the command was sent (connection
// lost) reaches the caller, who owns that retry policy as with RedisConnection; it also
// refreshes the table (a failover may be under way).
//
// `failed` says why the deployment cannot be used as configured (cluster=true on a server that
// is not a cluster node); the router keeps asking, once a second. Callbacks run on this object's
// thread; deleting the router drops pending callbacks without calling them.
class RedisRouter : public QObject
{
    Q_OBJECT
public:
    using Callback = RedisConnection::Callback;
    using RawCallback = RedisConnection::RawCallback;
    static constexpr int kRefreshMs = 200;
    // An INFO cluster reply of a node with cluster mode on.
    static bool saysClusterEnabled(const RedisReply &info) { return info.str.contains("cluster_enabled:1"); }

    RedisRouter(const RedisConfig &config, const QString &name, QObject *parent = nullptr);
    ~RedisRouter() override;

    void open();
    bool isReady() const { return m_ready; }
    bool isCluster() const { return m_cluster; }
    const SlotTable &table() const { return m_table; }
    QList<int> primaries() const { return m_table.primaries(); }
    int nodeOf(QByteArrayView key) const { return m_table.nodeOf(slotFor(key)); }
    // The connection to a node (opened on first use); nullptr before ready or for a bad index.
    RedisConnection *connection(int node);
    QList<RedisConnection *> connections() const;
    int refreshes() const { return m_refreshes; }
    int retryBudgetMs() const { return m_retryBudgetMs; }
    void setRetryBudgetMs(int ms) { m_retryBudgetMs = ms; }

    // Every primary's connection is up (one server: its connection); the node of `key`'s slot.
    bool isConnected() const;
    bool isConnected(QByteArrayView key) const;
    // Primaries whose connection is up (a cluster keeps serving the others' slots), and the
    // first of them (-1: none).
    int connectedPrimaries() const;
    int firstConnectedPrimary() const;
    // The configuration of a connection to one node of the table (its address; TLS checked
    // against the name the deployment was given): for this router's and other per-node
    // connections (the hub's wake-up subscribers).
    RedisConfig configFor(int node) const;
    // Why isConnected() is false: the last error of a primary's connection that is down.
    RedisError lastError() const;

    // The key a command is routed by: EVAL/EVALSHA/FCALL their first key, XREAD/XREADGROUP
    // their first stream, a keyless command (PING, INFO, SCRIPT...) none (empty: node of slot 0).
    static QByteArrayView keyOf(const QList<QByteArray> &args);

    // The command on the primary of `key`'s slot (see the class comment for redirects).
    void command(QByteArrayView key, const QList<QByteArray> &args, Callback cb = {});
    // The same, routed by keyOf(args): a drop-in for RedisConnection::command.
    void command(const QList<QByteArray> &args, Callback cb = {}) { command(keyOf(args), args, std::move(cb)); }
    // hiredis's own reply (see RedisConnection::RawCallback), for hot paths.
    void commandRaw(const QList<QByteArray> &args, RawCallback cb);
    // A command already in RESP form, routed by `key`; `scriptSource` (for an EVALSHA) is
    // loaded on a node that answers NOSCRIPT, then the command is sent again.
    void commandFormatted(QByteArrayView key, const QByteArray &resp, RawCallback cb, const QByteArray &scriptSource = {});
    // EVALSHA script numkeys keys... args... on the primary of keys.first()'s slot.
    void eval(const RedisScript &script, const QList<QByteArray> &keys, const QList<QByteArray> &args, Callback cb = {});
    // A command for one node (per-node work: sweeps, INFO); transient errors retried.
    void commandOnNode(int node, const QList<QByteArray> &args, Callback cb = {});
    // EVALSHA script 0 args... on one node (a script that names its keys in ARGV and declares
    // `flags=allow-cross-slot-keys`: per-node work over many slots), loaded there on NOSCRIPT.
    void evalOnNode(int node, const RedisScript &script, const QList<QByteArray> &args, Callback cb = {});
    // Reloads the slot table now (throttled like the refreshes MOVED asks for).
    void refresh();

Q_SIGNALS:
    void ready();
    // isConnected() turned true / false (the first `connected` follows `ready`).
    void connected();
    void disconnected();
    void failed(const QString &why);
    void topologyChanged();
    void connectionChanged();

private:
    // The key's hash slot; one server owns them all, so any slot routes there (no CRC16).
    int slotFor(QByteArrayView key) const { return m_cluster ? KeySlot::slotOf(key) : 0; }
    struct Attempt;
    void onSeedConnected();
    void detected(bool cluster);
    void loadSlots(RedisConnection *from, bool first);
    void dispatch(const std::shared_ptr<Attempt> &a);
    void onReply(const std::shared_ptr<Attempt> &a, RedisConnection *conn, const RedisReply &reply, const RedisError &error);
    // False when the budget is spent (the caller then gets `error`).
    bool retryLater(const std::shared_ptr<Attempt> &a);
    void finish(const std::shared_ptr<Attempt> &a, const RedisReply &reply, const RedisError &error);
    void finishRaw(const std::shared_ptr<Attempt> &a, const struct redisReply *reply, const RedisError &error);
    // A redirect or a retry was started for this error reply (else the caller finishes).
    bool redirected(const std::shared_ptr<Attempt> &a, RedisConnection *conn, RedisError &error);
    void updateConnected();
    RedisConnection *anyConnected();
    // The node's connection if it was opened (no bounds or null checks needed by callers).
    const RedisConnection *openedConnection(int node) const { return node >= 0 && node < m_nodes.size() ? m_nodes.at(node) : nullptr; }
    bool nodeUp(int node) const { const RedisConnection *c = openedConnection(node); return c && c->isConnected(); }
    void giveUp(const QString &why);

    RedisConfig m_config;
    QString m_name;
    RedisConnection *m_seed = nullptr; // finds the mode; the node-0 connection of a single server
    QList<RedisConnection *> m_nodes;  // by SlotTable node index; created on first use
    SlotTable m_table;
    bool m_ready = false;
    bool m_cluster = false;
    bool m_refreshing = false;
    bool m_refreshAgain = false;
    bool m_connected = false; // last isConnected() announced
    QElapsedTimer m_sinceRefresh; // invalid until the first CLUSTER SLOTS
    int m_refreshes = 0;
    int m_retryBudgetMs = 10000;
    QTimer m_refreshTimer;
    QTimer m_detectRetry;
};
