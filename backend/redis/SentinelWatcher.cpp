#include "redis/SentinelWatcher.h"

#include "redis/RedisConnection.h"

#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcRedis)

SentinelWatcher::SentinelWatcher(const RedisConfig &config, QObject *parent)
    : QObject(parent)
    , m_master(config.sentinelMaster)
{
    // A plain connection to the sentinels themselves (tried in turn), not to the master.
    RedisConfig sentinels = config;
    sentinels.sentinelMaster.clear();
    sentinels.password = config.sentinelPassword;
    sentinels.user.clear();
    sentinels.database = 0;
    m_connection = new RedisConnection(sentinels, QStringLiteral("sentinel-watch"), this);
    connect(m_connection, &RedisConnection::connected, this, [this] { m_connection->command({"SUBSCRIBE", "+switch-master"}); });
    // "+switch-master <master> <old ip> <old port> <new ip> <new port>"
    m_connection->setPushHandler([this](const RedisReply &message) {
        if (message.elements.size() != 3 || message.elements.at(0).str != "message")
            return;
        const QList<QByteArray> words = message.elements.at(2).str.split(' ');
        if (words.size() != 5 || QString::fromUtf8(words.at(0)) != m_master)
            return;
        qCWarning(lcRedis).noquote() << "sentinel: the primary of" << m_master << "moved to" << words.at(3) + ':' + words.at(4);
        Q_EMIT switched(QString::fromUtf8(words.at(3)), words.at(4).toInt());
    });
    m_connection->open();
}
