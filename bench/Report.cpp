#include "Report.h"

#include <cmath>
#include <cstdio>

namespace bench {

void Result::set(const std::string &key, double value)
{
    for (auto &m : metrics)
        if (m.first == key) {
            m.second = value;
            return;
        }
    metrics.emplace_back(key, value);
}

double Result::get(const std::string &key) const
{
    for (const auto &m : metrics)
        if (m.first == key)
            return m.second;
    return NAN;
}

static std::string number(double v)
{
    if (std::isnan(v))
        return "-";
    char buf[64];
    if (v == std::floor(v) && std::fabs(v) < 1e15)
        snprintf(buf, sizeof buf, "%.0f", v);
    else if (std::fabs(v) >= 100)
        snprintf(buf, sizeof buf, "%.1f", v);
    else
        snprintf(buf, sizeof buf, "%.3f", v);
    return buf;
}

static std::string jsonString(const std::string &s)
{
    std::string o = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\')
            o += '\\', o += c;
        else if (static_cast<unsigned char>(c) < 0x20)
            o += ' ';
        else
            o += c;
    }
    return o + "\"";
}

void printResult(const Result &r)
{
    printf("\n== %s\n", r.workload.c_str());
    for (const auto &m : r.metrics)
        printf("  %-34s %14s\n", m.first.c_str(), number(m.second).c_str());
    for (const auto &n : r.notes)
        printf("  %-34s %s\n", n.first.c_str(), n.second.c_str());
    fflush(stdout);
}

void printJsonLine(const Result &r)
{
    std::string o = "BENCH_JSON {\"workload\":" + jsonString(r.workload);
    for (const auto &m : r.metrics)
        o += "," + jsonString(m.first) + ":" + (std::isnan(m.second) ? std::string("null") : number(m.second));
    for (const auto &n : r.notes)
        o += "," + jsonString(n.first) + ":" + jsonString(n.second);
    o += "}";
    printf("%s\n", o.c_str());
    fflush(stdout);
}

void printSummary(const std::vector<Result> &results)
{
    printf("\n%-10s %9s %6s %5s %5s %9s %9s %9s %11s %8s %8s %8s %6s\n", "workload", "delivered", "lost", "dup", "ooo",
           "p50 ms", "p99 ms", "max ms", "chunks/s", "srv cpu", "rds cpu", "srv MiB", "conns");
    for (const auto &r : results) {
        if (r.workload == "xadd") {
            printf("%-10s redis-benchmark XADD: %s req/s pipelined (-P 16), %s req/s not pipelined\n", r.workload.c_str(),
                   number(r.get("xadd_pipelined_rps")).c_str(), number(r.get("xadd_rps")).c_str());
            continue;
        }
        printf("%-10s %9s %6s %5s %5s %9s %9s %9s %11s %8s %8s %8s %6s\n", r.workload.c_str(), number(r.get("delivered")).c_str(),
               number(r.get("lost")).c_str(), number(r.get("dup")).c_str(), number(r.get("out_of_order")).c_str(),
               number(r.get("p50_ms")).c_str(), number(r.get("p99_ms")).c_str(), number(r.get("max_ms")).c_str(),
               number(r.get("chunks_per_s")).c_str(), number(r.get("server_cpu_s")).c_str(), number(r.get("redis_cpu_s")).c_str(),
               number(r.get("server_rss_peak_mib")).c_str(), number(r.get("redis_clients_max")).c_str());
    }
    fflush(stdout);
}

} // namespace bench
