#include "redis/RedisQtAdapter.h"

#include <QSocketNotifier>

#include <hiredis/async.h>

RedisQtAdapter::RedisQtAdapter(redisAsyncContext *ac)
    : m_ac(ac)
    , m_read(new QSocketNotifier(ac->c.fd, QSocketNotifier::Read, this))
    , m_write(new QSocketNotifier(ac->c.fd, QSocketNotifier::Write, this))
{
    m_read->setEnabled(false);
    m_write->setEnabled(false);
    connect(m_read, &QSocketNotifier::activated, this, &RedisQtAdapter::onReadable);
    connect(m_write, &QSocketNotifier::activated, this, &RedisQtAdapter::onWritable);
}

bool RedisQtAdapter::attach(redisAsyncContext *ac)
{
    if (ac->ev.data)
        return false;
    auto *adapter = new RedisQtAdapter(ac);
    ac->ev.data = adapter;
    ac->ev.addRead = &RedisQtAdapter::addRead;
    ac->ev.delRead = &RedisQtAdapter::delRead;
    ac->ev.addWrite = &RedisQtAdapter::addWrite;
    ac->ev.delWrite = &RedisQtAdapter::delWrite;
    ac->ev.cleanup = &RedisQtAdapter::cleanup;
    return true;
}

void RedisQtAdapter::addRead(void *self) { static_cast<RedisQtAdapter *>(self)->m_read->setEnabled(true); }
void RedisQtAdapter::delRead(void *self) { static_cast<RedisQtAdapter *>(self)->m_read->setEnabled(false); }
void RedisQtAdapter::addWrite(void *self) { static_cast<RedisQtAdapter *>(self)->m_write->setEnabled(true); }
void RedisQtAdapter::delWrite(void *self) { static_cast<RedisQtAdapter *>(self)->m_write->setEnabled(false); }

void RedisQtAdapter::cleanup(void *self)
{
    auto *adapter = static_cast<RedisQtAdapter *>(self);
    adapter->m_read->setEnabled(false);
    adapter->m_write->setEnabled(false);
    adapter->m_ac = nullptr; // the context is being freed by hiredis right now
    adapter->deleteLater();
}

void RedisQtAdapter::onReadable()
{
    if (m_ac)
        redisAsyncHandleRead(m_ac);
}

void RedisQtAdapter::onWritable()
{
    if (m_ac)
        redisAsyncHandleWrite(m_ac);
}
