#include "redis/RedisRouter.h"

#include <QCryptographicHash>
#include <algorithm>
#include <QLoggingCategory>
#include <QPointer>

Q_LOGGING_CATEGORY(lcRouter, "agentstreams.redis.router")

RedisScript RedisScript::fromSource(const QByteArray &source)
{
    return {source, QCryptographicHash::hash(source, QCryptographicHash::Sha1).toHex()};
}

// One command on its way: where it goes, how often it was sent, since when.
struct RedisRouter::Attempt
{
    QList<QByteArray> args;
    QByteArray resp; // the command in RESP form (commandFormatted), else args
    Callback cb;
    RawCallback raw;
    int slot = -1;      // -1: `node` is fixed (commandOnNode)
    int node = -1;      // the fixed node, or the ASK target for the next send
    bool asking = false;
    QByteArray scriptSource; // for NOSCRIPT: loaded on the node, then EVALSHA again
    int sends = 0;
    int backoffMs = 0;
    QElapsedTimer since;
};

namespace {
constexpr int kMaxRedirects = 16;
} // namespace

RedisRouter::RedisRouter(const RedisConfig &config, const QString &name, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_name(name)
    , m_retryBudgetMs(qMax(10000, 2 * config.commandTimeoutMs))
{
    m_refreshTimer.setSingleShot(true);
    connect(&m_refreshTimer, &QTimer::timeout, this, &RedisRouter::refresh);
    m_detectRetry.setSingleShot(true);
    m_detectRetry.setInterval(1000);
    connect(&m_detectRetry, &QTimer::timeout, this, &RedisRouter::onSeedConnected);
    connect(this, &RedisRouter::connectionChanged, this, &RedisRouter::updateConnected);
    connect(this, &RedisRouter::ready, this, &RedisRouter::updateConnected);
    connect(this, &RedisRouter::topologyChanged, this, &RedisRouter::updateConnected);
}

bool RedisRouter::isConnected() const
{
    if (!m_ready)
        return false;
    const QList<int> primaries = m_table.primaries();
    return !primaries.isEmpty() && std::all_of(primaries.cbegin(), primaries.cend(), [this](int node) { return nodeUp(node); });
}

bool RedisRouter::isConnected(QByteArrayView key) const
{
    return m_ready && nodeUp(m_table.nodeOf(slotFor(key)));
}

int RedisRouter::connectedPrimaries() const
{
    if (!m_ready)
        return 0;
    const QList<int> primaries = m_table.primaries();
    return int(std::count_if(primaries.cbegin(), primaries.cend(), [this](int node) { return nodeUp(node); }));
}

int RedisRouter::firstConnectedPrimary() const
{
    if (m_ready)
        for (int node : m_table.primaries())
            if (nodeUp(node))
                return node;
    return -1;
}

RedisError RedisRouter::lastError() const
{
    if (!m_ready)
        return m_seed ? m_seed->lastError() : RedisError{RedisError::Kind::Closed, QStringLiteral("%1: not connected to Redis yet").arg(m_name)};
    const QList<int> primaries = m_table.primaries();
    for (int node : primaries)
        if (const RedisConnection *c = openedConnection(node); c && !c->isConnected())
            return c->lastError();
    if (primaries.isEmpty())
        return {RedisError::Kind::Closed, QStringLiteral("%1: the cluster has no reachable primary").arg(m_name)};
    return {};
}

void RedisRouter::updateConnected()
{
    const bool now = isConnected();
    if (now == m_connected)
        return;
    m_connected = now;
    if (now)
        Q_EMIT connected();
    else
        Q_EMIT disconnected();
}

QByteArrayView RedisRouter::keyOf(const QList<QByteArray> &args)
{
    if (args.size() < 2)
        return {};
    const QByteArray &cmd = args.first();
    auto is = [&cmd](const char *name) { return cmd.compare(name, Qt::CaseInsensitive) == 0; };
    if (is("EVAL") || is("EVALSHA") || is("EVAL_RO") || is("EVALSHA_RO") || is("FCALL") || is("FCALL_RO"))
        return args.size() > 3 && args.at(2).toLongLong() > 0 ? QByteArrayView(args.at(3)) : QByteArrayView();
    if (is("XREAD") || is("XREADGROUP")) {
        for (int i = 1; i + 1 < args.size(); ++i)
            if (args.at(i).compare("STREAMS", Qt::CaseInsensitive) == 0)
                return args.at(i + 1);
        return {};
    }
    if (is("PING") || is("INFO") || is("SCRIPT") || is("CLIENT") || is("CLUSTER") || is("WAIT") || is("FUNCTION") || is("CONFIG")
        || is("DBSIZE") || is("FLUSHALL") || is("FLUSHDB") || is("SCAN") || is("ROLE") || is("TIME") || is("MEMORY") || is("SELECT"))
        return {};
    return args.at(1);
}

RedisRouter::~RedisRouter() = default;

void RedisRouter::open()
{
    if (m_seed)
        return;
    m_seed = new RedisConnection(m_config, m_name, this);
    connect(m_seed, &RedisConnection::connected, this, &RedisRouter::onSeedConnected);
    connect(m_seed, &RedisConnection::connected, this, &RedisRouter::connectionChanged);
    connect(m_seed, &RedisConnection::disconnected, this, &RedisRouter::connectionChanged);
    m_seed->open();
}

void RedisRouter::onSeedConnected()
{
    if (m_ready || !m_seed || !m_seed->isConnected())
        return;
    if (!m_config.mayBeCluster()) {
        detected(false);
        return;
    }
    QPointer<RedisConnection> seed = m_seed;
    m_seed->command({"INFO", "cluster"}, [this, seed](const RedisReply &reply, const RedisError &error) {
        if (!seed || m_ready)
            return;
        if (error.isError()) {
            // A server without INFO cluster (e.g. a proxy) or a lost connection: ask again.
            qCWarning(lcRouter).noquote() << m_name << "INFO cluster on" << seed->peer() << "failed:" << error.message;
            if (m_config.cluster == RedisConfig::Cluster::On || error.isConnectionError())
                m_detectRetry.start();
            else
                detected(false);
            return;
        }
        const bool enabled = saysClusterEnabled(reply);
        if (!enabled && m_config.cluster == RedisConfig::Cluster::On) {
            giveUp(QStringLiteral("%1 is not a Redis Cluster node (INFO cluster says cluster_enabled:0) but the connection string says cluster=true; connect to a cluster node or drop cluster=true")
                       .arg(seed->peer()));
            m_detectRetry.start();
            return;
        }
        detected(enabled);
    });
}

void RedisRouter::giveUp(const QString &why)
{
    qCWarning(lcRouter).noquote() << m_name << why << "(asking again every second)";
    Q_EMIT failed(why);
}

void RedisRouter::detected(bool cluster)
{
    m_cluster = cluster;
    if (!cluster) {
        // One server: the seed connection is node 0 and owns every slot.
        m_table = SlotTable::single(m_config.host, m_config.port);
        m_nodes = {m_seed};
        m_ready = true;
        Q_EMIT ready();
        return;
    }
    loadSlots(m_seed, true);
}

void RedisRouter::loadSlots(RedisConnection *from, bool first)
{
    m_refreshing = true;
    m_sinceRefresh.start();
    QPointer<RedisConnection> conn = from;
    from->command({"CLUSTER", "SLOTS"}, [this, conn, first](const RedisReply &reply, const RedisError &error) {
        m_refreshing = false;
        QString why;
        std::optional<SlotTable> fresh;
        if (!error.isError() && conn)
            fresh = SlotTable::fromClusterSlots(reply, conn->peerHost(), &why);
        else
            why = error.message;
        if (!fresh) {
            qCWarning(lcRouter).noquote() << m_name << "CLUSTER SLOTS failed:" << why;
            if (first)
                m_detectRetry.start();
            else
                m_refreshTimer.start(kRefreshMs);
            return;
        }
        ++m_refreshes;
        if (first && conn) // known even when it serves no slot: the table can be asked there again
            m_table.indexOf({conn->peerHost(), conn->peerPort()});
        m_table.update(*fresh);
        if (first) {
            // The seed only found the cluster: the per-node connections carry the commands
            // (one per primary, opened as they are needed).
            m_seed->deleteLater();
            m_seed = nullptr;
            m_ready = true;
            for (int node : m_table.primaries())
                connection(node);
            qCInfo(lcRouter).noquote() << m_name << "Redis Cluster:" << m_table.primaries().size() << "primaries";
            Q_EMIT ready();
        } else {
            for (int node : m_table.primaries())
                connection(node);
            Q_EMIT topologyChanged();
        }
        if (m_refreshAgain) {
            m_refreshAgain = false;
            refresh();
        }
    });
}

void RedisRouter::refresh()
{
    if (!m_cluster || !m_ready)
        return;
    if (m_refreshing) {
        m_refreshAgain = true;
        return;
    }
    const qint64 wait = m_sinceRefresh.isValid() ? kRefreshMs - m_sinceRefresh.elapsed() : 0;
    if (wait > 0) {
        if (!m_refreshTimer.isActive())
            m_refreshTimer.start(int(wait));
        return;
    }
    RedisConnection *conn = anyConnected();
    if (!conn) {
        m_refreshTimer.start(kRefreshMs);
        return;
    }
    loadSlots(conn, false);
}

RedisConnection *RedisRouter::anyConnected()
{
    for (RedisConnection *c : std::as_const(m_nodes))
        if (c && c->isConnected())
            return c;
    // None connected: open the known nodes that have no connection yet (primaries no more, or
    // never: e.g. a node that serves no slot), to ask them next time.
    for (int i = 0; i < m_table.nodes().size(); ++i)
        connection(i);
    return nullptr;
}

RedisConfig RedisRouter::configFor(int node) const
{
    const SlotTable::Node &where = m_table.nodes().at(node);
    RedisConfig cfg = m_config;
    cfg.host = where.host;
    cfg.port = where.port;
    cfg.endpoints = {{where.host, where.port}};
    if (cfg.tls && cfg.tlsServerName.isEmpty())
        cfg.tlsServerName = m_config.host; // the name the deployment was given, as for its first node
    return cfg;
}

RedisConnection *RedisRouter::connection(int node)
{
    if (!m_ready || node < 0 || node >= m_table.nodes().size())
        return nullptr;
    while (m_nodes.size() <= node)
        m_nodes.append(nullptr);
    if (!m_nodes.at(node)) {
        const SlotTable::Node &where = m_table.nodes().at(node);
        auto *c = new RedisConnection(configFor(node), QStringLiteral("%1@%2:%3").arg(m_name, where.host).arg(where.port), this);
        connect(c, &RedisConnection::connected, this, &RedisRouter::connectionChanged);
        connect(c, &RedisConnection::disconnected, this, &RedisRouter::connectionChanged);
        connect(c, &RedisConnection::disconnected, this, &RedisRouter::refresh);
        c->open();
        m_nodes[node] = c;
    }
    return m_nodes.at(node);
}

QList<RedisConnection *> RedisRouter::connections() const
{
    QList<RedisConnection *> out;
    for (RedisConnection *c : m_nodes)
        if (c)
            out.append(c);
    if (out.isEmpty() && m_seed)
        out.append(m_seed);
    return out;
}

void RedisRouter::command(QByteArrayView key, const QList<QByteArray> &args, Callback cb)
{
    auto a = std::make_shared<Attempt>();
    a->args = args;
    a->cb = std::move(cb);
    a->slot = slotFor(key);
    a->since.start();
    dispatch(a);
}

void RedisRouter::commandRaw(const QList<QByteArray> &args, RawCallback cb)
{
    auto a = std::make_shared<Attempt>();
    a->args = args;
    a->raw = std::move(cb);
    a->slot = m_cluster ? KeySlot::slotOf(keyOf(args)) : 0;
    a->since.start();
    dispatch(a);
}

void RedisRouter::commandFormatted(QByteArrayView key, const QByteArray &resp, RawCallback cb, const QByteArray &scriptSource)
{
    auto a = std::make_shared<Attempt>();
    a->resp = resp;
    a->raw = std::move(cb);
    a->slot = slotFor(key);
    a->scriptSource = scriptSource;
    a->since.start();
    dispatch(a);
}

void RedisRouter::eval(const RedisScript &script, const QList<QByteArray> &keys, const QList<QByteArray> &args, Callback cb)
{
    auto a = std::make_shared<Attempt>();
    a->args = QList<QByteArray>{"EVALSHA", script.sha, QByteArray::number(keys.size())} + keys + args;
    a->cb = std::move(cb);
    a->slot = keys.isEmpty() ? 0 : slotFor(keys.first());
    a->scriptSource = script.source;
    a->since.start();
    dispatch(a);
}

void RedisRouter::commandOnNode(int node, const QList<QByteArray> &args, Callback cb)
{
    auto a = std::make_shared<Attempt>();
    a->args = args;
    a->cb = std::move(cb);
    a->node = node;
    a->since.start();
    dispatch(a);
}

void RedisRouter::evalOnNode(int node, const RedisScript &script, const QList<QByteArray> &args, Callback cb)
{
    auto a = std::make_shared<Attempt>();
    a->args = QList<QByteArray>{"EVALSHA", script.sha, "0"} + args;
    a->cb = std::move(cb);
    a->node = node;
    a->scriptSource = script.source;
    a->since.start();
    dispatch(a);
}

void RedisRouter::dispatch(const std::shared_ptr<Attempt> &a)
{
    if (!m_ready) {
        finish(a, {}, {RedisError::Kind::Closed, QStringLiteral("%1: not connected to Redis yet").arg(m_name)});
        return;
    }
    const int node = (a->slot < 0 || a->asking) ? a->node : m_table.nodeOf(a->slot);
    RedisConnection *conn = connection(node);
    if (!conn || !conn->isConnected()) {
        // Nothing was sent: safe to send later. One server keeps today's contract (the caller
        // hears at once that Redis is not connected); a cluster waits for its table to heal.
        const RedisError why = conn ? RedisError{RedisError::Kind::Closed, QStringLiteral("%1: not connected to %2").arg(m_name, conn->peer())}
                                    : RedisError{RedisError::Kind::Reply, QStringLiteral("CLUSTERDOWN no reachable primary serves hash slot %1").arg(a->slot)};
        if (m_cluster) {
            refresh();
            if (retryLater(a))
                return;
        }
        finish(a, {}, why);
        return;
    }
    ++a->sends;
    if (a->asking)
        conn->command({"ASKING"});
    QPointer<RedisConnection> guard = conn;
    if (!a->raw) {
        conn->command(a->args, [this, a, guard](const RedisReply &reply, const RedisError &error) { onReply(a, guard, reply, error); });
        return;
    }
    auto onRaw = [this, a, guard](const struct redisReply *reply, const RedisError &error) {
        RedisError e = error;
        if (!redirected(a, guard, e))
            finishRaw(a, reply, e);
    };
    if (a->resp.isEmpty())
        conn->commandRaw(a->args, onRaw);
    else
        conn->commandFormatted(a->resp, onRaw);
}

void RedisRouter::onReply(const std::shared_ptr<Attempt> &a, RedisConnection *conn, const RedisReply &reply, const RedisError &error)
{
    RedisError e = error;
    if (!redirected(a, conn, e))
        finish(a, reply, e);
}

bool RedisRouter::redirected(const std::shared_ptr<Attempt> &a, RedisConnection *conn, RedisError &error)
{
    a->asking = false;
    if (error.kind != RedisError::Kind::Reply) {
        if (error.isConnectionError() && m_cluster)
            refresh(); // a failover may be under way
        return false;
    }
    const ClusterRedirect r = ClusterRedirect::parse(error.message.toUtf8());
    switch (r.kind) {
    case ClusterRedirect::Kind::Moved:
    case ClusterRedirect::Kind::Ask: {
        if (a->sends >= kMaxRedirects)
            break;
        const QString host = r.host.isEmpty() && conn ? conn->peerHost() : r.host;
        const int target = m_table.indexOf({host, r.port});
        if (r.kind == ClusterRedirect::Kind::Moved) {
            m_table.setOwner(r.slot, target);
            refresh();
            if (a->slot < 0)
                a->node = target;
        } else {
            a->asking = true;
            a->node = target;
        }
        dispatch(a);
        return true;
    }
    case ClusterRedirect::Kind::TryAgain:
    case ClusterRedirect::Kind::ClusterDown:
        if (r.kind == ClusterRedirect::Kind::ClusterDown)
            refresh();
        if (retryLater(a))
            return true;
        break;
    case ClusterRedirect::Kind::NoScript:
        if (a->scriptSource.isEmpty() || !conn || a->sends >= kMaxRedirects)
            break;
        // Loaded on the node that answered, then sent again (to wherever the slot is then).
        conn->command({"SCRIPT", "LOAD", a->scriptSource}, [this, a](const RedisReply &, const RedisError &loadError) {
            if (loadError.isError() && !loadError.isRetryable()) {
                if (a->raw)
                    finishRaw(a, nullptr, loadError);
                else
                    finish(a, {}, loadError);
                return;
            }
            dispatch(a);
        });
        return true;
    case ClusterRedirect::Kind::None:
        break;
    }
    if (a->sends > 1 && (r.kind == ClusterRedirect::Kind::TryAgain || r.kind == ClusterRedirect::Kind::ClusterDown))
        error.message += QStringLiteral(" (sent %1 times over %2 ms)").arg(a->sends).arg(a->since.elapsed());
    return false;
}

bool RedisRouter::retryLater(const std::shared_ptr<Attempt> &a)
{
    const qint64 left = m_retryBudgetMs - a->since.elapsed();
    if (left <= 0)
        return false;
    a->backoffMs = a->backoffMs == 0 ? 20 : qMin(500, a->backoffMs * 2);
    // The last send comes when the budget ends, not a backoff before it.
    QTimer::singleShot(int(qMin<qint64>(a->backoffMs, left)), this, [this, a] { dispatch(a); });
    return true;
}

void RedisRouter::finishRaw(const std::shared_ptr<Attempt> &a, const struct redisReply *reply, const RedisError &error)
{
    if (a->raw) {
        RawCallback cb = std::move(a->raw);
        a->raw = nullptr;
        cb(reply, error);
    }
}

void RedisRouter::finish(const std::shared_ptr<Attempt> &a, const RedisReply &reply, const RedisError &error)
{
    if (a->raw) {
        finishRaw(a, nullptr, error);
        return;
    }
    if (a->cb) {
        Callback cb = std::move(a->cb);
        a->cb = nullptr;
        cb(reply, error);
    }
}
