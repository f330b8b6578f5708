#pragma once

#include <QString>
#include <QTemporaryDir>

// Test fixture: a private CA and certificates made by `openssl` in a temporary directory:
// a server certificate for localhost / 127.0.0.1 and a client certificate, both signed by the
// CA, and a second CA that signed neither (for "wrong CA" cases). EC P-256 keys: fast to make.
//
//   TestCertificates certs;
//   QVERIFY2(certs.make(), qPrintable(certs.error()));
//   redis.startTls({certs.ca(), certs.serverCert(), certs.serverKey()});
class TestCertificates
{
public:
    bool make();
    QString error() const { return m_error; }
    QString ca() const { return path("ca.pem"); }
    QString otherCa() const { return path("other-ca.pem"); }
    QString serverCert() const { return path("server.pem"); }
    QString serverKey() const { return path("server.key"); }
    QString clientCert() const { return path("client.pem"); }
    QString clientKey() const { return path("client.key"); }

private:
    QString path(const char *name) const { return m_dir.filePath(QString::fromLatin1(name)); }
    bool openssl(const QStringList &args);
    bool issue(const QString &name, const QString &subject, const QString &extensions);
    QTemporaryDir m_dir;
    QString m_error;
};
