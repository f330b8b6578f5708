#include "ProcStats.h"

#include <arpa/inet.h>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace bench {

ProcSample readProc(int pid)
{
    ProcSample s;
    if (pid <= 0)
        return s;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string all;
    if (!std::getline(stat, all))
        return s;
    // Fields after the ")" that ends comm: state(3) ... utime(14) stime(15).
    const size_t rp = all.rfind(')');
    std::istringstream in(all.substr(rp + 2));
    std::string tok;
    unsigned long long utime = 0, stime = 0;
    for (int field = 3; field <= 15 && in >> tok; ++field) {
        if (field == 14)
            utime = std::stoull(tok);
        if (field == 15)
            stime = std::stoull(tok);
    }
    s.cpuSec = double(utime + stime) / double(sysconf(_SC_CLK_TCK));
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0)
            s.rssKb = atoll(line.c_str() + 6);
        else if (line.rfind("VmHWM:", 0) == 0)
            s.hwmKb = atoll(line.c_str() + 6);
    }
    s.ok = true;
    return s;
}

bool resetPeak(int pid)
{
    if (pid <= 0)
        return false;
    FILE *f = fopen(("/proc/" + std::to_string(pid) + "/clear_refs").c_str(), "w");
    if (!f)
        return false;
    const bool ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

int pidListeningOn(int port)
{
    // /proc/net/tcp: "sl local rem st ... inode"; state 0A = LISTEN.
    std::ifstream tcp("/proc/net/tcp");
    std::string line;
    std::string inode;
    char portHex[8];
    snprintf(portHex, sizeof portHex, ":%04X", port);
    std::getline(tcp, line);
    while (std::getline(tcp, line)) {
        std::istringstream in(line);
        std::string sl, local, remote, st, txrx, tr, retr, uid, timeout, ino;
        in >> sl >> local >> remote >> st >> txrx >> tr >> retr >> uid >> timeout >> ino;
        if (st == "0A" && local.size() > 5 && local.compare(local.size() - 5, 5, portHex) == 0) {
            inode = ino;
            break;
        }
    }
    if (inode.empty())
        return -1;
    const std::string target = "socket:[" + inode + "]";
    DIR *proc = opendir("/proc");
    if (!proc)
        return -1;
    int found = -1;
    while (dirent *d = readdir(proc)) {
        const int pid = atoi(d->d_name);
        if (pid <= 0)
            continue;
        const std::string fdDir = "/proc/" + std::string(d->d_name) + "/fd";
        DIR *fds = opendir(fdDir.c_str());
        if (!fds)
            continue;
        while (dirent *f = readdir(fds)) {
            char buf[64];
            const ssize_t n = readlink((fdDir + "/" + f->d_name).c_str(), buf, sizeof buf - 1);
            if (n > 0) {
                buf[n] = 0;
                if (target == buf) {
                    found = pid;
                    break;
                }
            }
        }
        closedir(fds);
        if (found > 0)
            break;
    }
    closedir(proc);
    return found;
}

void raiseNoFileLimit(int64_t wanted)
{
    rlimit r{};
    getrlimit(RLIMIT_NOFILE, &r);
    const rlim_t target = rlim_t(wanted) < r.rlim_max ? rlim_t(wanted) : r.rlim_max;
    if (r.rlim_cur < target) {
        r.rlim_cur = target;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

RedisProbe::~RedisProbe()
{
    if (m_fd >= 0)
        close(m_fd);
}

bool RedisProbe::ensure()
{
    if (m_fd >= 0)
        return true;
    m_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{2, 0};
    setsockopt(m_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(m_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(m_port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(m_fd, reinterpret_cast<sockaddr *>(&a), sizeof a) < 0) {
        close(m_fd);
        m_fd = -1;
        return false;
    }
    return true;
}

std::string RedisProbe::command(const std::vector<std::string> &args)
{
    if (!ensure())
        return {};
    std::string req = "*" + std::to_string(args.size()) + "\r\n";
    for (const auto &a : args)
        req += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    if (::send(m_fd, req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size())) {
        close(m_fd);
        m_fd = -1;
        return {};
    }
    // Read one reply: a line, or a bulk string with its length.
    std::string in;
    char buf[65536];
    for (;;) {
        const size_t nl = in.find("\r\n");
        if (nl != std::string::npos) {
            if (in[0] != '$')
                return in.substr(0, nl);
            const long len = atol(in.c_str() + 1);
            if (len < 0)
                return {};
            if (in.size() >= nl + 2 + size_t(len))
                return in.substr(nl + 2, size_t(len));
        }
        const ssize_t n = recv(m_fd, buf, sizeof buf, 0);
        if (n <= 0) {
            close(m_fd);
            m_fd = -1;
            return {};
        }
        in.append(buf, size_t(n));
    }
}

int64_t RedisProbe::infoField(const std::string &section, const std::string &field)
{
    const std::string info = command({"INFO", section});
    const size_t p = info.find(field + ":");
    if (p == std::string::npos)
        return -1;
    return atoll(info.c_str() + p + field.size() + 1);
}

double redisBenchmarkXadd(int port, int requests, int pipeline, int clients)
{
    const std::string cmd = "redis-benchmark -h 127.0.0.1 -p " + std::to_string(port) + " -n " + std::to_string(requests)
                            + " -c " + std::to_string(clients) + " -P " + std::to_string(pipeline)
                            + " -q XADD bench:xadd:stream '*' f v 2>&1";
    FILE *p = popen(cmd.c_str(), "r");
    if (!p)
        return -1;
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        out.append(buf, n);
    pclose(p);
    // "...XADD bench:xadd:stream * f v: 123456.78 requests per second, p50=..."; progress
    // lines are separated by \r, the last figure wins.
    const size_t at = out.rfind(" requests per second");
    if (at == std::string::npos)
        return -1;
    size_t b = at;
    while (b > 0 && (isdigit(static_cast<unsigned char>(out[b - 1])) || out[b - 1] == '.'))
        --b;
    return atof(out.c_str() + b);
}

} // namespace bench
