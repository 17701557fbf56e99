#!/usr/bin/python3
"""NDES stand-in: the /certsrv/mscep_admin/ page, behind mod_auth_gssapi.

Answers like Microsoft NDES: HTTP 200 with a UTF-16LE page (Content-Type
without charset, a meta tag that wrongly says UTF-8) carrying a one-time
challenge: uppercase hex, valid 60 minutes, single use, at most 5 unused per
user (then "The password cache is full." page). Errors also come as HTTP 200.

Each issued challenge is an empty file $NDES_DIR/challenges/<CHALLENGE>; the
SCEP side consumes it (valid iff the file exists; it deletes it).

Run-time switches (no restart needed):
  $NDES_DIR/mode    english (default), japanese, nobom, utf8, long,
                    cachefull, nopermission, garbage
  $NDES_DIR/denied  user names (short or user@REALM), one per line: they get
                    the no-permission page
  $NDES_DIR/thumbprint  the CA thumbprint to show (else a made-up one)
"""
import fcntl
import os
import secrets
import sys
import time

NDES_DIR = os.environ.get("NDES_DIR", "")
VALIDITY = 60 * 60
CACHE_MAX = 5

HEAD = ('<HTML><Head><Meta HTTP-Equiv="Content-Type" Content="text/html; charset=UTF-8">\r\n'
        '<Title>{title}</Title></Head>\r\n'
        '<Body BgColor=#FFFFFF><Font ID=locPageFont Face="Arial">\r\n'
        '<Table Border=0 CellSpacing=0 CellPadding=4 Width=100% BgColor=#008080>\r\n'
        '<TR><TD><Font Color=#FFFFFF><LocID ID=locMSCertSrv><Font Face="Arial" Size=-1>'
        '<B><I>Microsoft</I></B></Font><Br><Font Face="Arial" Size=+2>{product}</Font>'
        '</LocID></Font></TD></TR></Table>\r\n'
        '<P ID=locPageTitle> <Font Color=#008080 Size=+1><B>{title}</B></Font> </P>\r\n')
TAIL = '</Font></Body></HTML>\r\n'

EN = {
    "title": "Network Device Enrollment Service",
    "product": "Active Directory Certificate Services",
    "ok": ('<P> Network Device Enrollment Service allows you to obtain certificates for routers '
           'or other network devices using the Simple Certificate Enrollment Protocol (SCEP). </P>\r\n'
           '<P> To complete certificate enrollment for your network device you will need the following '
           'information: <P> The thumbprint (hash value) for the CA certificate is: <B> {thumb} </B> '
           '<P> The enrollment challenge password is: <B> {challenge} </B> '
           '<P> This password can be used only once and will expire within 60 minutes. '
           '<P> Each enrollment requires a new challenge password. You can refresh this web page to '
           'obtain a new challenge password. </P>\r\n'
           '<P ID=locPageDesc> For more information see <A HREF=http://go.microsoft.com/fwlink/?LinkId=67852>'
           'Using Network Device Enrollment Service </A>. </P>\r\n'),
    "full": ('<P ID=locPageDesc> The password cache is full. You can wait until one of the passwords '
             'expires or is used, or increase the cache size. </P>\r\n'),
    "denied": ('<P ID=locPageDesc> You do not have sufficient permission to enroll with SCEP. '
               'Please contact your system administrator. </P>\r\n'),
}
JA = {
    "title": "ネットワーク デバイス登録サービス",
    "product": "Active Directory 証明書サービス",
    "ok": ('<P> ネットワーク デバイス登録サービスを使用すると、簡易証明書登録プロトコル (SCEP) を使用して'
           'ルーターまたはその他のネットワーク デバイスの証明書を取得できます。 </P>\r\n'
           '<P> ネットワーク デバイスの証明書の登録を完了するには、次の情報が必要です: '
           '<P> CA 証明書の拇印 (ハッシュ値): <B> {thumb} </B> '
           '<P> 登録チャレンジ パスワード: <B> {challenge} </B> '
           '<P> このパスワードは 1 回のみ使用でき、60 分以内に有効期限が切れます。 '
           '<P> 登録ごとに新しいチャレンジ パスワードが必要です。 </P>\r\n'),
}
GARBAGE = ('<html><head><title>Runtime Error</title></head><body>'
           '<h1>Server Error in \'/certsrv\' Application.</h1>'
           '<h2><i>Runtime Error</i></h2>'
           '<b>Description:</b> An application error occurred on the server.</body></html>\r\n')


def read_first_line(path, default=""):
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline().strip()
    except OSError:
        return default


def is_denied(user):
    short = user.split("@", 1)[0]
    try:
        with open(os.path.join(NDES_DIR, "denied"), encoding="utf-8") as f:
            names = {line.strip() for line in f if line.strip()}
    except OSError:
        return False
    return user in names or short in names


def issue(user, length):
    """Issue a challenge for user or return None when the cache is full."""
    chdir = os.path.join(NDES_DIR, "challenges")
    isdir = os.path.join(NDES_DIR, "issued")
    now = time.time()
    with open(os.path.join(NDES_DIR, "lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        unused = 0
        for name in os.listdir(isdir):
            rec = os.path.join(isdir, name)
            try:
                with open(rec, encoding="utf-8") as f:
                    owner = f.read().strip()
                age = now - os.stat(rec).st_mtime
            except OSError:
                continue
            live = os.path.exists(os.path.join(chdir, name))
            if not live or age >= VALIDITY:
                # Used (the SCEP side deleted it) or expired: forget it.
                for p in (rec, os.path.join(chdir, name)):
                    try:
                        os.unlink(p)
                    except OSError:
                        pass
                continue
            if owner == user:
                unused += 1
        if unused >= CACHE_MAX:
            return None
        challenge = secrets.token_hex(length // 2).upper()
        with open(os.path.join(isdir, challenge), "w", encoding="utf-8") as f:
            f.write(user + "\n")
        open(os.path.join(chdir, challenge), "w").close()
        return challenge


def page(lang, body):
    return HEAD.format(title=lang["title"], product=lang["product"]) + body + TAIL


def broken_server():
    """The /ntlm, /intune and /down prefixes: NDES servers that fail."""
    uri = os.environ.get("REQUEST_URI", "")
    out = sys.stdout.buffer
    if uri.startswith("/ntlm/"):
        out.write(b"Status: 401 Unauthorized\r\nWWW-Authenticate: NTLM\r\n"
                  b"Content-Type: text/html\r\n\r\n<h1>401 - Unauthorized</h1>")
    elif uri.startswith("/intune/"):
        out.write(b"Status: 403 Forbidden\r\nContent-Type: text/html\r\n\r\n<h1>403 - Forbidden</h1>")
    elif uri.startswith("/down/"):
        out.write(b"Status: 503 Service Unavailable\r\nContent-Type: text/html\r\n\r\n"
                  b"<h1>Service Unavailable</h1>")
    else:
        return False
    out.flush()
    return True


def main():
    if broken_server():
        return
    user = os.environ.get("REMOTE_USER", "")
    mode = read_first_line(os.path.join(NDES_DIR, "mode"), "english") or "english"
    thumb = read_first_line(os.path.join(NDES_DIR, "thumbprint"))
    encoding, bom = "utf-16-le", True
    if not user:
        text = page(EN, EN["denied"])
    elif mode == "garbage":
        text = GARBAGE
    elif mode == "nopermission" or is_denied(user):
        text = page(EN, EN["denied"])
    elif mode == "cachefull":
        text = page(EN, EN["full"])
    else:
        lang = JA if mode == "japanese" else EN
        if not thumb:
            # English NDES groups the thumbprint; show the Japanese one ungrouped.
            thumb = ("4A8D3E6D 0A7D76B4 92F4E5C3 3E4AB2D1" if lang is EN
                     else "0E1A2B3C4D5E6F708192A3B4C5D6E7F801234567")
        challenge = issue(user, 32 if mode == "long" else 16)
        if challenge is None:
            text = page(lang, EN["full"])
        else:
            text = page(lang, lang["ok"].format(thumb=thumb, challenge=challenge))
        if mode == "nobom":
            bom = False
        elif mode == "utf8":
            encoding, bom = "utf-8", False
    body = text.encode(encoding)
    if bom:
        body = b"\xff\xfe" + body
    out = sys.stdout.buffer
    out.write(b"Status: 200 OK\r\nContent-Type: text/html\r\n")
    out.write(b"Content-Length: %d\r\n\r\n" % len(body))
    out.write(body)
    out.flush()


if __name__ == "__main__":
    main()
