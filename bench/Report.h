#pragma once

#include <string>
#include <utility>
#include <vector>

namespace bench {

// One workload's figures, in insertion order. NaN = not measured.
struct Result
{
    std::string workload;
    std::vector<std::pair<std::string, double>> metrics;
    std::vector<std::pair<std::string, std::string>> notes;
    void set(const std::string &key, double value);
    double get(const std::string &key) const; // NaN if absent
    void note(const std::string &key, const std::string &value) { notes.emplace_back(key, value); }
};

void printResult(const Result &r);           // human-readable block
void printJsonLine(const Result &r);         // "BENCH_JSON {...}" on one line
void printSummary(const std::vector<Result> &results);

} // namespace bench
