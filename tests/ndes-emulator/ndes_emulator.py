#!/usr/bin/python3
"""An NDES emulator: Microsoft NDES's SCEP behaviour for tests.

Written independently of autoenroll's C SCEP code, with another language and
other crypto libraries (python3-cryptography, python3-asn1crypto), so that a
misreading of RFC 8894 cannot hide on both sides.

What it does like NDES:
  * separate RA certificates: one for encryption (keyEncipherment), one for
    signing (digitalSignature), both issued by the CA; GetCACert returns
    RA sign + RA enc + CA as a certs-only PKCS#7 (application/x-x509-ca-ra-cert);
  * replies are SHA-1 signed and 3DES enveloped, whatever the request used;
  * one-time challenges from /certsrv/mscep_admin/ (UTF-16LE page): valid
    60 minutes, at most 5 unused cached ("The password cache is full."),
    single use; failures carry failInfo and the HRESULT attribute
    1.3.6.1.4.1.311.21.33 (a decimal string);
  * optional PENDING: a PKCSReq gets PENDING and is issued on CertPoll;
  * GetCert, GetCRL (a CRL signed by the CA), GetNextCACert, RenewalReq
    (signed by a certificate this CA issued).
Special subjects trigger NDES errors: CN=bad-subject (0x80094001),
CN=ca-down (0x800706BA).

Listens on 127.0.0.1 only. Never logs challenges or keys.
"""

import argparse
import base64
import datetime
import hashlib
import http.server
import os
import secrets
import sys
import threading
import time
import urllib.parse

from asn1crypto import algos, cms, core, x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as apadding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

OID_MESSAGE_TYPE = '2.16.840.1.113733.1.9.2'
OID_PKI_STATUS = '2.16.840.1.113733.1.9.3'
OID_FAIL_INFO = '2.16.840.1.113733.1.9.4'
OID_SENDER_NONCE = '2.16.840.1.113733.1.9.5'
OID_RECIPIENT_NONCE = '2.16.840.1.113733.1.9.6'
OID_TRANSACTION_ID = '2.16.840.1.113733.1.9.7'
OID_HRESULT = '1.3.6.1.4.1.311.21.33'
OID_CHALLENGE = x509.ObjectIdentifier('1.2.840.113549.1.9.7')

CERTREP, RENEWALREQ, PKCSREQ, CERTPOLL, GETCERT, GETCRL = 3, 17, 19, 20, 21, 22
SUCCESS, FAILURE, PENDING = 0, 2, 3
BAD_ALG, BAD_MESSAGE_CHECK, BAD_REQUEST, BAD_TIME, BAD_CERT_ID = 0, 1, 2, 3, 4

HR_CHALLENGE_USED = 0x800B0110
HR_CHALLENGE_UNKNOWN = 0x80070490
HR_BAD_SUBJECT = 0x80094001
HR_CA_DOWN = 0x800706BA

HASHES = {'sha1': hashes.SHA1, 'sha256': hashes.SHA256, 'sha512': hashes.SHA512,
          'sha384': hashes.SHA384}


def log(msg):
    sys.stderr.write('ndes-emulator: %s\n' % msg)
    sys.stderr.flush()


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class ScepError(Exception):
    def __init__(self, fail_info, hresult=None, why=''):
        super().__init__(why)
        self.fail_info = fail_info
        self.hresult = hresult
        self.why = why


class Pki:
    """The CA, the two RA certificates, issued certificates, the CRL."""

    def __init__(self, valid_seconds, single_ra):
        self.ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'Autoenroll Test'),
                          x509.NameAttribute(NameOID.COMMON_NAME, 'Autoenroll Test NDES CA')])
        self.ca = self._cert(name, name, self.ca_key.public_key(), self.ca_key, 3650 * 86400,
                             ca=True, ku=dict(digital_signature=True, key_cert_sign=True,
                                              crl_sign=True))
        self.next_ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        nname = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'Autoenroll Test NDES CA 2')])
        self.next_ca = self._cert(nname, nname, self.next_ca_key.public_key(), self.next_ca_key,
                                  3650 * 86400, ca=True,
                                  ku=dict(digital_signature=True, key_cert_sign=True, crl_sign=True))
        if single_ra:
            self.enc_key = self.sign_key = rsa.generate_private_key(65537, 2048)
            ra = self._ra('NDES RA', self.enc_key, dict(digital_signature=True, key_encipherment=True))
            self.enc_cert = self.sign_cert = ra
        else:
            self.enc_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.sign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.enc_cert = self._ra('NDES RA Encryption', self.enc_key, dict(key_encipherment=True))
            self.sign_cert = self._ra('NDES RA Signature', self.sign_key, dict(digital_signature=True))
        self.valid_seconds = valid_seconds
        self.issued = {}      # serial -> cryptography Certificate
        self.revoked = set()  # serials

    def _ra(self, cn, key, ku):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        return self._cert(name, self.ca.subject, key.public_key(), self.ca_key, 365 * 86400, ku=ku,
                          eku=[x509.ObjectIdentifier('1.3.6.1.4.1.311.20.2.1')])

    @staticmethod
    def _cert(subject, issuer, pub, signer, seconds, ca=False, ku=None, eku=None, exts=()):
        t = now()
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(pub)
             .serial_number(x509.random_serial_number())
             .not_valid_before(t - datetime.timedelta(minutes=10))
             .not_valid_after(t + datetime.timedelta(seconds=seconds)))
        if ca:
            b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        if ku:
            args = dict(digital_signature=False, content_commitment=False, key_encipherment=False,
                        data_encipherment=False, key_agreement=False, key_cert_sign=False,
                        crl_sign=False, encipher_only=False, decipher_only=False)
            args.update(ku)
            b = b.add_extension(x509.KeyUsage(**args), critical=True)
        if eku:
            b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        for ext in exts:
            b = b.add_extension(ext.value, critical=ext.critical)
        return b.sign(signer, hashes.SHA256())

    def issue(self, csr):
        cn = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if cn and cn[0].value == 'bad-subject':
            raise ScepError(BAD_REQUEST, HR_BAD_SUBJECT, 'bad subject')
        if cn and cn[0].value == 'ca-down':
            raise ScepError(BAD_REQUEST, HR_CA_DOWN, 'CA unreachable')
        try:
            exts = [e for e in csr.extensions
                    if e.oid.dotted_string in ('2.5.29.17', '2.5.29.15', '2.5.29.37')]
        except x509.ExtensionNotFound:
            exts = []
        cert = self._cert(csr.subject, self.ca.subject, csr.public_key(), self.ca_key,
                          self.valid_seconds, exts=exts)
        self.issued[cert.serial_number] = cert
        return cert

    def crl(self):
        t = now()
        b = (x509.CertificateRevocationListBuilder().issuer_name(self.ca.subject)
             .last_update(t - datetime.timedelta(minutes=1))
             .next_update(t + datetime.timedelta(days=1)))
        for serial in sorted(self.revoked):
            b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(serial)
                                          .revocation_date(t).build())
        return b.sign(self.ca_key, hashes.SHA256())


class Challenges:
    """NDES's password cache: 60 minutes, 5 unused at most, single use."""

    def __init__(self, ttl, cache):
        self.ttl, self.cache = ttl, cache
        self.valid = {}   # challenge -> expiry
        self.used = set()
        self.lock = threading.Lock()

    def new(self):
        with self.lock:
            t = time.time()
            self.valid = {c: e for c, e in self.valid.items() if e > t}
            if len(self.valid) >= self.cache:
                return None
            c = secrets.token_hex(8).upper()
            self.valid[c] = t + self.ttl
            return c

    def consume(self, c):
        with self.lock:
            if c in self.used:
                raise ScepError(BAD_REQUEST, HR_CHALLENGE_USED, 'challenge already used')
            exp = self.valid.pop(c, None)
            if exp is None or exp <= time.time():
                raise ScepError(BAD_REQUEST, HR_CHALLENGE_UNKNOWN, 'challenge unknown or expired')
            self.used.add(c)


def der_cert(c):
    return ax509.Certificate.load(c.public_bytes(serialization.Encoding.DER))


def certs_only(certs=(), crls=()):
    from asn1crypto import crl as acrl
    sd = cms.SignedData({
        'version': 'v1', 'digest_algorithms': [],
        'encap_content_info': {'content_type': 'data'},
        'certificates': [der_cert(c) for c in certs],
        'signer_infos': [],
    })
    if crls:
        sd['crls'] = [cms.RevocationInfoChoice(
            name='crl', value=acrl.CertificateList.load(c.public_bytes(serialization.Encoding.DER)))
            for c in crls]
    return cms.ContentInfo({'content_type': 'signed_data', 'content': sd}).dump()


def ias(cert):
    a = der_cert(cert)
    return cms.IssuerAndSerialNumber({'issuer': a.issuer, 'serial_number': a.serial_number})


def attr(oid, value):
    return cms.CMSAttribute({'type': oid, 'values': [value]})


def sign(content, signer_cert, signer_key, attrs, digest='sha1'):
    """SignedData over content (None: no eContent) with the SCEP attributes."""
    h = hashes.Hash(HASHES[digest]())
    h.update(content or b'')
    all_attrs = [attr('content_type', 'data'), attr('message_digest', h.finalize()),
                 attr('signing_time', cms.Time(name='utc_time', value=datetime.datetime.now(
                     datetime.timezone.utc)))] + attrs
    # DER SET OF: sorted by encoding (verifiers re-encode before checking).
    all_attrs.sort(key=lambda a: a.dump())
    signed = cms.CMSAttributes(all_attrs)
    sig = signer_key.sign(signed.dump(), apadding.PKCS1v15(), HASHES[digest]())
    si = cms.SignerInfo({
        'version': 'v1',
        'sid': cms.SignerIdentifier(name='issuer_and_serial_number', value=ias(signer_cert)),
        'digest_algorithm': {'algorithm': digest},
        'signed_attrs': signed,
        'signature_algorithm': {'algorithm': 'rsassa_pkcs1v15'},
        'signature': sig,
    })
    encap = {'content_type': 'data'}
    if content is not None:
        encap['content'] = content
    sd = cms.SignedData({
        'version': 'v1', 'digest_algorithms': [{'algorithm': digest}],
        'encap_content_info': encap, 'certificates': [der_cert(signer_cert)],
        'signer_infos': [si],
    })
    return cms.ContentInfo({'content_type': 'signed_data', 'content': sd}).dump()


def envelope_3des(data, recipient):
    key, iv = os.urandom(24), os.urandom(8)
    p = padding.PKCS7(64).padder()
    plain = p.update(data) + p.finalize()
    e = Cipher(algorithms.TripleDES(key), modes.CBC(iv)).encryptor()
    ct = e.update(plain) + e.finalize()
    ek = recipient.public_key().encrypt(key, apadding.PKCS1v15())
    env = cms.EnvelopedData({
        'version': 'v0',
        'recipient_infos': [cms.RecipientInfo(name='ktri', value=cms.KeyTransRecipientInfo({
            'version': 'v0',
            'rid': cms.RecipientIdentifier(name='issuer_and_serial_number', value=ias(recipient)),
            'key_encryption_algorithm': {'algorithm': 'rsaes_pkcs1v15'},
            'encrypted_key': ek}))],
        'encrypted_content_info': {
            'content_type': 'data',
            'content_encryption_algorithm': {'algorithm': 'tripledes_3key', 'parameters': iv},
            'encrypted_content': ct},
    })
    return cms.ContentInfo({'content_type': 'enveloped_data', 'content': env}).dump()


def open_envelope(der, key):
    ci = cms.ContentInfo.load(der)
    if ci['content_type'].native != 'enveloped_data':
        raise ScepError(BAD_MESSAGE_CHECK, why='pkcsPKIEnvelope is not EnvelopedData')
    env = ci['content']
    ri = env['recipient_infos'][0].chosen
    cek = key.decrypt(ri['encrypted_key'].native, apadding.PKCS1v15())
    eci = env['encrypted_content_info']
    alg = eci['content_encryption_algorithm']['algorithm'].native
    iv = eci['content_encryption_algorithm']['parameters'].native
    if alg in ('aes128_cbc', 'aes192_cbc', 'aes256_cbc'):
        c, bits = algorithms.AES(cek), 128
    elif alg == 'tripledes_3key':
        c, bits = algorithms.TripleDES(cek), 64
    else:  # NDES would take DES; we want to catch a client that sends it
        raise ScepError(BAD_ALG, why='request cipher %s refused' % alg)
    d = Cipher(c, modes.CBC(iv)).decryptor()
    plain = d.update(eci['encrypted_content'].native) + d.finalize()
    u = padding.PKCS7(bits).unpadder()
    return u.update(plain) + u.finalize(), alg


class Emulator:
    def __init__(self, args):
        self.args = args
        self.pki = Pki(args.valid_seconds, args.single_ra)
        self.challenges = Challenges(args.challenge_ttl, 5)
        self.pending = {}  # transactionID -> [csr, polls]
        self.lock = threading.Lock()
        self.stats = {'requests': 0}

    # --- pkiMessage in ------------------------------------------------------
    def read_request(self, der):
        ci = cms.ContentInfo.load(der, strict=True)
        if ci['content_type'].native != 'signed_data':
            raise ValueError('not SignedData')
        sd = ci['content']
        si = sd['signer_infos'][0]
        sid = si['sid'].chosen
        signer = None
        for c in sd['certificates']:
            c = c.chosen
            if c.issuer == sid['issuer'] and c.serial_number == sid['serial_number'].native:
                signer = x509.load_der_x509_certificate(c.dump())
        if signer is None:
            raise ValueError('signer certificate not in the message')
        digest = si['digest_algorithm']['algorithm'].native
        if digest not in HASHES:
            raise ScepError(BAD_ALG, why='digest %s refused' % digest)
        content = sd['encap_content_info']['content'].native
        attrs = {}
        for a in si['signed_attrs']:
            attrs[a['type'].dotted] = a['values'][0]
        h = hashes.Hash(HASHES[digest]())
        h.update(content)
        if attrs.get('1.2.840.113549.1.9.4').native != h.finalize():
            raise ScepError(BAD_MESSAGE_CHECK, why='messageDigest mismatch')
        signed = si['signed_attrs'].dump()
        signed = b'\x31' + signed[1:]
        signer.public_key().verify(si['signature'].native, signed, apadding.PKCS1v15(),
                                   HASHES[digest]())
        return {
            'signer': signer, 'digest': digest,
            'type': int(attrs[OID_MESSAGE_TYPE].native),
            'tid': attrs[OID_TRANSACTION_ID].native,
            'nonce': attrs[OID_SENDER_NONCE].native,
            'content': content,
        }

    # --- CertRep out --------------------------------------------------------
    def certrep(self, req, status, content=None, fail_info=None, hresult=None):
        attrs = [attr(OID_MESSAGE_TYPE, core.PrintableString(str(CERTREP))),
                 attr(OID_PKI_STATUS, core.PrintableString(str(status))),
                 attr(OID_TRANSACTION_ID, core.PrintableString(req['tid'])),
                 attr(OID_SENDER_NONCE, core.OctetString(os.urandom(16))),
                 attr(OID_RECIPIENT_NONCE, core.OctetString(req['nonce']))]
        if fail_info is not None:
            attrs.append(attr(OID_FAIL_INFO, core.PrintableString(str(fail_info))))
        if hresult is not None:
            signed = hresult - (1 << 32) if hresult & 0x80000000 else hresult
            attrs.append(attr(OID_HRESULT, core.PrintableString(str(signed))))
        env = envelope_3des(content, req['signer']) if content is not None else None
        return sign(env, self.pki.sign_cert, self.pki.sign_key, attrs, 'sha1')

    def issue_reply(self, req, cert):
        return self.certrep(req, SUCCESS, certs_only([cert]))

    def pki_operation(self, der):
        try:
            req = self.read_request(der)
        except ScepError:
            raise
        except Exception as e:  # unreadable: NDES answers an HTTP error
            log('unreadable pkiMessage: %s' % e)
            return None
        self.stats['requests'] += 1
        log('%s transaction %s digest %s' % (
            {19: 'PKCSReq', 17: 'RenewalReq', 20: 'CertPoll', 21: 'GetCert', 22: 'GetCRL'}.get(
                req['type'], str(req['type'])), req['tid'][:16], req['digest']))
        try:
            return self.handle(req)
        except ScepError as e:
            log('FAILURE failInfo %d%s: %s' % (
                e.fail_info, ' HRESULT 0x%08X' % e.hresult if e.hresult else '', e.why))
            return self.certrep(req, FAILURE, fail_info=e.fail_info, hresult=e.hresult)

    def handle(self, req):
        t = req['type']
        if t in (PKCSREQ, RENEWALREQ):
            plain, alg = open_envelope(req['content'], self.pki.enc_key)
            log('request envelope cipher %s' % alg)
            csr = x509.load_der_x509_csr(plain)
            if not csr.is_signature_valid:
                raise ScepError(BAD_MESSAGE_CHECK, why='CSR signature')
            if t == RENEWALREQ:
                # Real NDES often refuses RenewalReq from non-Windows clients;
                # a file "refuse-renewal" in --dir makes this one do so.
                if os.path.exists(os.path.join(self.args.dir, 'refuse-renewal')):
                    raise ScepError(BAD_REQUEST, why='RenewalReq refused (refuse-renewal)')
                s = req['signer']
                if s.issuer != self.pki.ca.subject or s.serial_number not in self.pki.issued:
                    raise ScepError(BAD_REQUEST, why='renewal signer not issued here')
                self.pki.ca.public_key().verify(s.signature, s.tbs_certificate_bytes,
                                                apadding.PKCS1v15(), s.signature_hash_algorithm)
                if s.not_valid_after < now():
                    raise ScepError(BAD_TIME, why='renewal signer expired')
            else:
                try:
                    ch = csr.attributes.get_attribute_for_oid(OID_CHALLENGE).value
                except x509.AttributeNotFound:
                    raise ScepError(BAD_REQUEST, HR_CHALLENGE_UNKNOWN, 'no challenge')
                self.challenges.consume(ch.decode('utf-8', 'replace'))
            if self.args.pending and t == PKCSREQ:
                with self.lock:
                    self.pending[req['tid']] = [csr, 0]
                log('PENDING')
                return self.certrep(req, PENDING)
            return self.issue_reply(req, self.pki.issue(csr))
        if t == CERTPOLL:
            with self.lock:
                entry = self.pending.get(req['tid'])
                if entry is None:
                    raise ScepError(BAD_CERT_ID, why='no pending request with this transactionID')
                entry[1] += 1
                if entry[1] < self.args.pending_polls:
                    return self.certrep(req, PENDING)
                del self.pending[req['tid']]
            return self.issue_reply(req, self.pki.issue(entry[0]))
        if t == GETCERT:
            plain, _ = open_envelope(req['content'], self.pki.enc_key)
            serial = cms.IssuerAndSerialNumber.load(plain)['serial_number'].native
            cert = self.pki.issued.get(serial)
            if cert is None:
                raise ScepError(BAD_CERT_ID, why='unknown serial')
            return self.issue_reply(req, cert)
        if t == GETCRL:
            open_envelope(req['content'], self.pki.enc_key)
            return self.certrep(req, SUCCESS, certs_only(crls=[self.pki.crl()]))
        raise ScepError(BAD_REQUEST, why='messageType %d not supported' % t)

    def admin_page(self):
        c = self.challenges.new()
        thumb = hashlib.sha1(self.pki.ca.public_bytes(serialization.Encoding.DER)).hexdigest()
        thumb = ' '.join(thumb[i:i + 8].upper() for i in range(0, 40, 8))
        head = ('<HTML><Head><Meta HTTP-Equiv="Content-Type" Content="text/html; charset=UTF-8">'
                '<Title>Network Device Enrollment Service</Title></Head><Body BgColor=#FFFFFF>'
                '<Font ID=locPageFont Face="Arial">')
        if c is None:
            body = '<P> The password cache is full. </P>'
        else:
            body = ('<P> Network Device Enrollment Service allows you to obtain certificates for '
                    'routers or other network devices using the Simple Certificate Enrollment '
                    'Protocol (SCEP). </P><P> To complete certificate enrollment for your network '
                    'device you will need the following information: <P> The thumbprint (hash '
                    'value) for the CA certificate is: <B> %s </B> <P> The enrollment challenge '
                    'password is: <B> %s </B> <P> This password can be used only once and will '
                    'expire within 60 minutes. </P>' % (thumb, c))
        return b'\xff\xfe' + (head + body + '</Font></Body></HTML>').encode('utf-16-le')


def make_handler(emu):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, fmt, *a):  # URLs may carry requests: log the path only
            pass

        def reply(self, code, ctype, body):
            self.send_response(code)
            self.send_header('Content-Type', ctype)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def scep(self, op, message):
            a = emu.args
            if op == 'GetCACaps':
                return self.reply(200, 'text/plain', a.caps.replace(',', '\r\n').encode() + b'\r\n')
            if op == 'GetCACert':
                p = emu.pki
                certs = [p.sign_cert, p.ca] if a.single_ra else [p.sign_cert, p.enc_cert, p.ca]
                return self.reply(200, 'application/x-x509-ca-ra-cert', certs_only(certs))
            if op == 'GetNextCACert':
                body = sign(certs_only([emu.pki.next_ca]), emu.pki.sign_cert, emu.pki.sign_key, [])
                return self.reply(200, 'application/x-x509-next-ca-cert', body)
            if op == 'PKIOperation':
                if a.html_errors:
                    return self.reply(200, 'text/html', '<html><body>IIS error</body></html>'.encode())
                try:
                    body = emu.pki_operation(message)
                except ScepError as e:
                    log('request refused: %s' % e.why)
                    body = None
                if body is None:
                    return self.reply(500, 'text/html', b'<html><body>500</body></html>')
                return self.reply(200, 'application/x-pki-message', body)
            return self.reply(400, 'text/html', b'<html>unknown operation</html>')

        def do_GET(self):
            u = urllib.parse.urlsplit(self.path)
            q = urllib.parse.parse_qs(u.query)
            if u.path == '/certsrv/mscep_admin/':
                return self.reply(200, 'text/html', emu.admin_page())
            if u.path == '/certsrv/mscep_admin':
                self.send_response(301)
                self.send_header('Location', '/certsrv/mscep_admin/')
                self.send_header('Content-Length', '0')
                self.end_headers()
                return None
            if u.path.startswith('/certsrv/mscep/mscep.dll'):
                op = q.get('operation', [''])[0]
                msg = q.get('message', [''])[0]
                der = None
                if op == 'PKIOperation':
                    try:
                        der = base64.b64decode(msg, validate=False)
                    except Exception:
                        der = b''
                return self.scep(op, der)
            return self.reply(404, 'text/html', b'<html>404</html>')

        def do_POST(self):
            u = urllib.parse.urlsplit(self.path)
            q = urllib.parse.parse_qs(u.query)
            n = int(self.headers.get('Content-Length', '0'))
            if n > 1 << 20:
                return self.reply(413, 'text/html', b'<html>too large</html>')
            body = self.rfile.read(n)
            if not u.path.startswith('/certsrv/mscep/mscep.dll') or \
                    q.get('operation', [''])[0] != 'PKIOperation':
                return self.reply(404, 'text/html', b'<html>404</html>')
            return self.scep('PKIOperation', body)

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--dir', required=True, help='writes ca.pem, fingerprint, ready here')
    ap.add_argument('--caps', default='POSTPKIOperation,Renewal,SHA-256,SHA-1,DES3',
                    help='GetCACaps words, comma-separated ("" = none)')
    ap.add_argument('--pending', action='store_true', help='PKCSReq gets PENDING first')
    ap.add_argument('--pending-polls', type=int, default=1, help='CertPolls until issued')
    ap.add_argument('--valid-seconds', type=int, default=7 * 86400)
    ap.add_argument('--challenge-ttl', type=int, default=3600)
    ap.add_argument('--single-ra', action='store_true', help='one RA cert for both jobs')
    ap.add_argument('--html-errors', action='store_true', help='PKIOperation answers an HTML page')
    args = ap.parse_args()
    emu = Emulator(args)
    with open(os.path.join(args.dir, 'ca.pem'), 'wb') as f:
        f.write(emu.pki.ca.public_bytes(serialization.Encoding.PEM))
    fp = emu.pki.ca.fingerprint(hashes.SHA256()).hex().upper()
    with open(os.path.join(args.dir, 'fingerprint'), 'w') as f:
        f.write('sha256:' + ':'.join(fp[i:i + 2] for i in range(0, len(fp), 2)) + '\n')
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', args.port), make_handler(emu))
    open(os.path.join(args.dir, 'ready'), 'w').close()
    log('listening on 127.0.0.1:%d' % args.port)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
