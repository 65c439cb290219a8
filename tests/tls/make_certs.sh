#!/usr/bin/env bash
# make_certs.sh DIR — test PKI for IPFIX over TLS (RFC 5471 §3.7.1: a test
# CA with an identity for the Collecting Process and one for the Exporting
# Process), plus the bad cases of §3.7.5-3.7.7. Used by tests/unit/test_tls.c
# and tests/integration/tls.sh; needs the `openssl` command. Writes into DIR:
#   ca.pem                   the test CA ("ipfixkit test CA")
#   collector.{pem,key}      CN collector.test, SAN DNS:collector.test IP:127.0.0.1 IP:::1
#   exporter.{pem,key}       CN exporter.test, SAN DNS:exporter.test
#   expired-collector.*      as collector, valid 2020-01-01..2020-01-02 only
#   expired-exporter.*       as exporter, same dates
#   ca2.pem                  a second, unrelated CA
#   rogue-collector.*, rogue-exporter.*   the same names, signed by ca2
#   revoked-collector.*, revoked-exporter.*   the same names, signed by ca,
#                            then revoked
#   crl.pem                  the test CA's revocation list (the two revoked)
# EC P-256 keys (fast). Exit status of the first failing openssl command.
set -euo pipefail
D=${1:?usage: make_certs.sh DIR}
mkdir -p "$D/newcerts"
cd "$D"
: > index.txt
echo 1000 > serial
cat > openssl.cnf <<CNF
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = .
database = ./index.txt
new_certs_dir = ./newcerts
serial = ./serial
default_md = sha256
default_days = 3650
default_crl_days = 3650
policy = any
unique_subject = no
email_in_dn = no
[ any ]
commonName = supplied
[ collector_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:collector.test, IP:127.0.0.1, IP:::1
[ exporter_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:exporter.test
CNF
export OPENSSL_CONF=$D/openssl.cnf
q() { "$@" > /dev/null 2>openssl.err || { cat openssl.err >&2; return 1; }; }

make_ca() { # name CN
  q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
    -out "$1.pem" -subj "/CN=$2" -days 3650 -config openssl.cnf -extensions ca_ext
}
make_leaf() { # name CN ext ca [startdate enddate]
  local name=$1 cn=$2 ext=$3 ca=$4
  q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" \
    -out "$name.csr" -subj "/CN=$cn" -config openssl.cnf
  local dates=(-days 3650)
  [ $# -ge 6 ] && dates=(-startdate "$5" -enddate "$6")
  q openssl ca -batch -notext -config openssl.cnf -cert "$ca.pem" -keyfile "$ca.key" \
    -in "$name.csr" -out "$name.pem" -extensions "$ext" "${dates[@]}"
  rm -f "$name.csr"
}

make_ca ca "ipfixkit test CA"
make_ca ca2 "another test CA"
make_leaf collector collector.test collector_ext ca
make_leaf exporter exporter.test exporter_ext ca
make_leaf expired-collector collector.test collector_ext ca 200101000000Z 200102000000Z
make_leaf expired-exporter exporter.test exporter_ext ca 200101000000Z 200102000000Z
make_leaf rogue-collector collector.test collector_ext ca2
make_leaf rogue-exporter exporter.test exporter_ext ca2
make_leaf revoked-collector collector.test collector_ext ca
make_leaf revoked-exporter exporter.test exporter_ext ca
for who in revoked-collector revoked-exporter; do
  q openssl ca -batch -config openssl.cnf -cert ca.pem -keyfile ca.key -revoke "$who.pem"
done
q openssl ca -batch -config openssl.cnf -cert ca.pem -keyfile ca.key -gencrl -out crl.pem
