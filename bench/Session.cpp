#include "Session.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace bench {

EntryId EntryId::parse(const std::string &text)
{
    EntryId id;
    char *end = nullptr;
    id.ms = strtoull(text.c_str(), &end, 10);
    if (end == text.c_str() || *end != '-')
        return id;
    const char *s = end + 1;
    id.seq = strtoull(s, &end, 10);
    id.valid = end != s;
    return id;
}

void Session::init(int64_t nChunks, bool ids)
{
    chunks = nChunks;
    seen.assign(size_t(nChunks), 0);
    keepIds = ids;
    if (ids)
        idOfK.assign(size_t(nChunks), std::string());
}

void Session::onId(const std::string &id)
{
    const EntryId e = EntryId::parse(id);
    if (e.valid && !(e <= last && last.valid)) {
        last = e;
        lastIdText = id;
    }
}

int64_t Session::onMessage(const std::string &id, const std::string &data, int64_t recvWallUs, int64_t recvMonoUs)
{
    const EntryId e = EntryId::parse(id);
    const bool oldId = e.valid && last.valid && e <= last;
    char *end = nullptr;
    const long long k = strtoll(data.c_str(), &end, 10);
    const char *p = end;
    const long long due = strtoll(p, &end, 10);
    if (end == p || k < 0 || k >= chunks) {
        ++badChunks;
        return -1;
    }
    if (!oldId) {
        last = e;
        lastIdText = id;
    }
    uint8_t &s = seen[size_t(k)];
    if (s) {
        ++rawDup;
        if (!oldId)
            ++dup;
        return -1;
    }
    if (oldId) { // an id we already passed carrying a k we never saw: count it, it is data
        ++outOfOrder;
    }
    s = 1;
    ++delivered;
    lastNewK = k;
    if (keepIds)
        idOfK[size_t(k)] = id;
    if (k < maxK)
        ++outOfOrder;
    else
        maxK = k;
    if (firstChunkMono == 0)
        firstChunkMono = recvMonoUs;
    lastChunkMono = recvMonoUs;
    return recvWallUs - due;
}

double Latencies::percentileMs(double p)
{
    if (us.empty())
        return NAN;
    std::sort(us.begin(), us.end());
    size_t i = size_t(std::ceil(p / 100.0 * double(us.size()))) ;
    i = i == 0 ? 0 : i - 1;
    return double(us[std::min(i, us.size() - 1)]) / 1000.0;
}

std::string Latencies::timeline(int64_t t0Mono, int64_t bucketUs) const
{
    std::vector<std::vector<int64_t>> buckets;
    for (size_t i = 0; i < us.size(); ++i) {
        const size_t b = size_t(std::max<int64_t>(0, atMono[i] - t0Mono) / bucketUs);
        if (b >= buckets.size())
            buckets.resize(b + 1);
        buckets[b].push_back(us[i]);
    }
    char line[128];
    snprintf(line, sizeof line, "# t0 = %.6f s CLOCK_MONOTONIC\n", double(t0Mono) / 1e6);
    std::string out = line;
    out += "# t_s chunks p50_ms p99_ms max_ms\n";
    for (size_t b = 0; b < buckets.size(); ++b) {
        auto &v = buckets[b];
        if (v.empty())
            continue;
        std::sort(v.begin(), v.end());
        auto at = [&](double p) { return double(v[std::min(v.size() - 1, size_t(p * double(v.size())))]) / 1000.0; };
        snprintf(line, sizeof line, "%.2f %zu %.3f %.3f %.3f\n", double(b) * double(bucketUs) / 1e6, v.size(), at(0.5), at(0.99),
                 double(v.back()) / 1000.0);
        out += line;
    }
    return out;
}

double Latencies::maxMs()
{
    if (us.empty())
        return NAN;
    return double(*std::max_element(us.begin(), us.end())) / 1000.0;
}

} // namespace bench
