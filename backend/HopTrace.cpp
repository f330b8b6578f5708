#include "HopTrace.h"

#include "streams/EntryId.h"

#include <QFile>
#include <QHash>
#include <QList>
#include <algorithm>
#include <array>
#include <atomic>
#include <ctime>
#include <memory>
#include <vector>

namespace HopTrace {
bool g_on = false;

namespace {
constexpr int kSlots = 200000;
constexpr int kEvery = 8; // every 8th offered chunk is followed
const char *const kNames[HopCount] = {"due", "made", "queued", "sent", "acked", "delivered", "framed", "kernel"};

struct State
{
    QByteArray path;
    std::unique_ptr<std::array<std::atomic<qint64>, HopCount>[]> times;
    std::atomic<int> used{0};
    QHash<QByteArray, int> byEntry; // "<conversation> <id>" -> slot (event-loop thread only)
    qint64 offeredDue = -1;
    qint64 offeredMade = -1;
    quint64 offers = 0;
};
State *g_state = nullptr;

QByteArray entryKey(const QByteArray &conversationId, const EntryId &id)
{
    return conversationId + ' ' + id.toBytes();
}

// "# <name>: <p50> <p90> <p99>\n", µs with one decimal.
QByteArray summaryLine(const QByteArray &name, std::vector<qint64> v)
{
    std::sort(v.begin(), v.end());
    QByteArray line = "# " + name + ':';
    for (const double p : {0.5, 0.9, 0.99}) {
        const qint64 ns = v.empty() ? 0 : v[size_t(p * double(v.size() - 1) + 0.5)];
        line += ' ' + QByteArray::number(double(ns) / 1000.0, 'f', 1);
    }
    return line + '\n';
}
} // namespace

qint64 nowNs()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return qint64(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void init()
{
    const QByteArray path = qgetenv("AGENT_STREAMS_HOP_TRACE");
    if (path.isEmpty() || g_state)
        return;
    g_state = new State;
    g_state->path = path;
    g_state->times.reset(new std::array<std::atomic<qint64>, HopCount>[kSlots]);
    for (int i = 0; i < kSlots; ++i)
        for (auto &t : g_state->times[i])
            t.store(0, std::memory_order_relaxed);
    g_on = true;
}

void offer(qint64 dueNs, qint64 madeNs)
{
    if (!g_on || (g_state->offers++ % kEvery) != 0)
        return;
    g_state->offeredDue = dueNs;
    g_state->offeredMade = madeNs;
}

int take(const QByteArray &conversationId, const EntryId &id)
{
    if (!g_on || g_state->offeredDue < 0)
        return -1;
    const int slot = g_state->used.load(std::memory_order_relaxed);
    if (slot >= kSlots)
        return -1;
    g_state->used.store(slot + 1, std::memory_order_relaxed);
    auto &t = g_state->times[slot];
    t[Due].store(g_state->offeredDue, std::memory_order_relaxed);
    t[Made].store(g_state->offeredMade, std::memory_order_relaxed);
    t[Queued].store(nowNs(), std::memory_order_relaxed);
    g_state->offeredDue = g_state->offeredMade = -1;
    g_state->byEntry.insert(entryKey(conversationId, id), slot);
    return slot;
}

int find(const QByteArray &conversationId, const EntryId &id)
{
    if (!g_on)
        return -1;
    return g_state->byEntry.value(entryKey(conversationId, id), -1);
}

void mark(int slot, Hop hop)
{
    if (!g_on || slot < 0 || slot >= kSlots)
        return;
    qint64 expected = 0;
    g_state->times[slot][hop].compare_exchange_strong(expected, nowNs(), std::memory_order_relaxed);
}

namespace {
int g_current = -1;
}

void setCurrent(int slot)
{
    g_current = slot;
}

int current()
{
    return g_on ? g_current : -1;
}

void dump()
{
    if (!g_on)
        return;
    QFile file(QString::fromLocal8Bit(g_state->path));
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return;
    std::vector<qint64> deltas[HopCount];
    std::vector<qint64> total;
    QByteArray lines = "# one sampled chunk per line: µs from due to each hop (due made queued sent acked delivered framed kernel)\n";
    const int used = g_state->used.load();
    for (int i = 0; i < used; ++i) {
        const auto &t = g_state->times[i];
        qint64 v[HopCount];
        bool complete = true;
        for (int h = 0; h < HopCount; ++h) {
            v[h] = t[h].load(std::memory_order_relaxed);
            complete = complete && v[h] > 0;
        }
        if (!complete)
            continue; // e.g. nobody was following that stream live
        for (int h = 1; h < HopCount; ++h)
            deltas[h].push_back(v[h] - v[h - 1]);
        total.push_back(v[Kernel] - v[Due]);
        for (int h = 0; h < HopCount; ++h)
            lines += QByteArray::number(double(v[h] - v[Due]) / 1000.0, 'f', 1) + (h + 1 < HopCount ? ' ' : '\n');
    }
    QByteArray summary = "# hop: p50 p90 p99 µs over " + QByteArray::number(qsizetype(total.size())) + " chunks\n";
    for (int h = 1; h < HopCount; ++h)
        summary += summaryLine(QByteArray(kNames[h - 1]) + "->" + kNames[h], std::move(deltas[h]));
    summary += summaryLine("due->kernel", std::move(total));
    file.write(summary + lines);
}
} // namespace HopTrace
