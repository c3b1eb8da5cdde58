#!/usr/bin/env python3
"""Records the NetFlow/IPFIX test vectors in test/vectors/netflow/ (run as root, loopback only).

1. tcpdump records a known transfer on lo (TCP over 127.0.0.1 -> 127.0.0.21, TCP over ::1, a few
   UDP datagrams) into a pcap; the script computes the expected per-5-tuple bytes/packets from the
   pcap itself (IP total length, as an exporter counts).
2. softflowd -r <pcap> exports it as NetFlow v5, v9 and IPFIX to a UDP receiver on 127.0.0.1 that
   writes every datagram as hex.
3. pmacctd (nfprobe plugin) watches lo live while the same kind of transfer runs again, exporting
   v9 and IPFIX to the receiver.
4. nfcapd receives the same datagrams replayed to 127.0.0.1; nfdump -o json is stored next to
   them as the independent reference.

Nothing is sent or captured off the machine: every address is 127.0.0.0/8 or ::1.
"""
import datetime
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'vectors', 'netflow')
OUT = os.path.abspath(OUT)
os.makedirs(OUT, exist_ok=True)
TMP = tempfile.mkdtemp(prefix='nfvec-')

SERVER4 = '127.0.0.21'
PORT_TCP4 = 15021
PORT_TCP6 = 15022
PORT_UDP = 15023
RX_PORT = 15055
NFCAPD_PORT = 15056
FILTER = f'(tcp port {PORT_TCP4} or tcp port {PORT_TCP6} or udp port {PORT_UDP})'


def version(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    out = (r.stdout + r.stderr).strip().splitlines()
    return out[0] if out else '?'


def transfer(up=120_000, down=30_000, udp=5, tag=b'x'):
    """Client 127.0.0.1 -> server 127.0.0.21:PORT_TCP4 uploads `up` bytes, server answers `down`
    bytes; the same over ::1:PORT_TCP6 with half the sizes; `udp` datagrams of 300 bytes to PORT_UDP."""
    def serve(fam, addr, port, reply):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(1)
        c, _ = s.accept()
        got = 0
        while True:
            d = c.recv(65536)
            if not d:
                break
            got += len(d)
        c.sendall(tag * reply)
        c.close()
        s.close()

    for fam, srv, cli, port, u, d in [
        (socket.AF_INET, SERVER4, '127.0.0.1', PORT_TCP4, up, down),
        (socket.AF_INET6, '::1', '::1', PORT_TCP6, up // 2, down // 2),
    ]:
        t = threading.Thread(target=serve, args=(fam, srv, port, d))
        t.start()
        time.sleep(0.2)
        c = socket.socket(fam, socket.SOCK_STREAM)
        c.bind((cli, 0))
        c.connect((srv, port))
        c.sendall(tag * u)
        c.shutdown(socket.SHUT_WR)
        while c.recv(65536):
            pass
        c.close()
        t.join()
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind((SERVER4, PORT_UDP))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('127.0.0.1', 0))
    for _ in range(udp):
        s.sendto(tag * 300, (SERVER4, PORT_UDP))
        r.recv(2048)
    s.close()
    r.close()


def softflowd_version():
    # `softflowd -h` prints "This is softflowd version 1.1.0. Valid commandline options:"
    for line in subprocess.run(['softflowd', '-h'], capture_output=True, text=True).stderr.splitlines():
        if 'version ' in line:
            return 'softflowd ' + '.'.join(line.split('version ')[1].split('.')[0:3])
    return '?'


def pcap_flows(path):
    """Per 5-tuple {bytes (sum of IP lengths), packets} from a pcap (DLT_EN10MB, as lo gives)."""
    flows = {}
    with open(path, 'rb') as f:
        data = f.read()
    magic = struct.unpack('<I', data[:4])[0]
    e = '<' if magic in (0xA1B2C3D4, 0xA1B23C4D) else '>'
    linktype = struct.unpack(e + 'I', data[20:24])[0]
    assert linktype == 1, linktype
    off = 24
    while off + 16 <= len(data):
        ts_s, ts_us, incl, _ = struct.unpack(e + 'IIII', data[off:off + 16])
        ms = ts_s * 1000 + ts_us // 1000
        pkt = data[off + 16: off + 16 + incl]
        off += 16 + incl
        et = struct.unpack('>H', pkt[12:14])[0]
        ip = pkt[14:]
        if et == 0x0800:
            ihl = (ip[0] & 15) * 4
            length = struct.unpack('>H', ip[2:4])[0]
            proto = ip[9]
            src = socket.inet_ntop(socket.AF_INET, ip[12:16])
            dst = socket.inet_ntop(socket.AF_INET, ip[16:20])
            l4 = ip[ihl:]
        elif et == 0x86DD:
            length = struct.unpack('>H', ip[4:6])[0] + 40
            proto = ip[6]
            src = socket.inet_ntop(socket.AF_INET6, ip[8:24])
            dst = socket.inet_ntop(socket.AF_INET6, ip[24:40])
            l4 = ip[40:]
        else:
            continue
        sp, dp = struct.unpack('>HH', l4[:4])
        k = f'{proto}|{src}|{sp}|{dst}|{dp}'
        x = flows.setdefault(k, {'protocol': proto, 'src': src, 'srcPort': sp, 'dst': dst, 'dstPort': dp, 'bytes': 0, 'packets': 0, 'firstMs': ms, 'lastMs': ms})
        x['lastMs'] = ms
        x['bytes'] += length
        x['packets'] += 1
    return sorted(flows.values(), key=lambda x: (x['protocol'], x['src'], x['srcPort']))


class Receiver:
    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(('127.0.0.1', port))
        self.sock.settimeout(0.2)
        self.datagrams = []
        self.stop = False
        self.t = threading.Thread(target=self.loop)
        self.t.start()

    def loop(self):
        while not self.stop:
            try:
                d, _ = self.sock.recvfrom(65535)
                self.datagrams.append(d.hex())
            except socket.timeout:
                pass

    def close(self, quiet=1.0):
        # wait until no datagram for `quiet` s
        n = -1
        while n != len(self.datagrams):
            n = len(self.datagrams)
            time.sleep(quiet)
        self.stop = True
        self.t.join()
        self.sock.close()
        return self.datagrams


def nfdump_reference(datagrams, name):
    d = os.path.join(TMP, 'nfcapd-' + name)
    os.makedirs(d, exist_ok=True)
    p = subprocess.Popen(['nfcapd', '-w', d, '-p', str(NFCAPD_PORT), '-b', '127.0.0.1', '-t', '3600'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for h in datagrams:
        s.sendto(bytes.fromhex(h), ('127.0.0.1', NFCAPD_PORT))
        time.sleep(0.01)
    s.close()
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=10)
    files = sorted(os.path.join(d, f) for f in os.listdir(d) if f.startswith('nfcapd.') and 'current' not in f)
    if not files:
        files = sorted(os.path.join(d, f) for f in os.listdir(d) if f.startswith('nfcapd.'))
    out = []
    for f in files:
        r = subprocess.run(['nfdump', '-r', f, '-o', 'json'], capture_output=True, text=True)
        txt = r.stdout.strip()
        if txt:
            out.extend(json.loads(txt))
    cmd = f'nfcapd -w DIR -p {NFCAPD_PORT} -b 127.0.0.1 -t 3600; replay; nfdump -r FILE -o json'
    return out, cmd


def capture_transfer(pcap):
    td = subprocess.Popen(['tcpdump', '-i', 'lo', '-U', '-s', '256', '-w', pcap, FILTER], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    transfer()
    time.sleep(1.0)
    td.send_signal(signal.SIGINT)
    td.wait(timeout=10)


def main():
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
    versions = {
        'softflowd': softflowd_version(),
        'pmacctd': version(['pmacctd', '-V']),
        'nfdump': version(['nfdump', '-V']),
        'tcpdump': version(['tcpdump', '--version']),
    }
    pcap = os.path.join(OUT, 'transfer.pcap')
    capture_transfer(pcap)
    expected = pcap_flows(pcap)
    traffic = (f'TCP 127.0.0.1:* -> {SERVER4}:{PORT_TCP4}: 120000 bytes up, 30000 down; TCP [::1]:* -> [::1]:{PORT_TCP6}: 60000 up, 15000 down; '
               f'5 UDP datagrams of 300 bytes 127.0.0.1:* -> {SERVER4}:{PORT_UDP} (one way)')
    index = []
    for v in (5, 9, 10):
        rx = Receiver(RX_PORT)
        cmd = ['softflowd', '-r', pcap, '-n', f'127.0.0.1:{RX_PORT}', '-v', str(v), '-d']
        subprocess.run(cmd, capture_output=True, timeout=60)
        dgs = rx.close()
        nf, nfcmd = nfdump_reference(dgs, f'softflowd-v{v}')
        name = f'softflowd-v{v}.json'
        exp = [x for x in expected if v != 5 or ':' not in x['src']]  # v5 carries IPv4 only
        doc = {
            'exporter': 'softflowd', 'version': versions['softflowd'], 'netflowVersion': v,
            'command': ' '.join(cmd).replace(pcap, 'transfer.pcap'), 'date': date,
            'traffic': traffic, 'pcap': 'transfer.pcap', 'expected': exp,
            'datagrams': dgs, 'nfdump': {'version': versions['nfdump'], 'command': nfcmd, 'records': nf},
        }
        with open(os.path.join(OUT, name), 'w') as f:
            json.dump(doc, f, indent=1)
        index.append(name)
        print(name, len(dgs), 'datagrams', len(nf), 'nfdump records', file=sys.stderr)

    for v, rate in ((9, 0), (10, 0), (9, 4), (10, 4)):
        suffix = f'-sampled{rate}' if rate else ''
        conf = os.path.join(TMP, f'pmacctd-v{v}{suffix}.conf')
        with open(conf, 'w') as f:
            f.write(f"""daemonize: false
pcap_interface: lo
pcap_filter: {FILTER}
aggregate: src_host, dst_host, src_port, dst_port, proto
plugins: nfprobe
nfprobe_receiver: 127.0.0.1:{RX_PORT}
nfprobe_version: {v}
nfprobe_timeouts: tcp=2:tcp.rst=2:tcp.fin=2:udp=2:general=2:maxlife=5:expint=1
""" + (f'sampling_rate: {rate}\n' if rate else ''))
        rx = Receiver(RX_PORT)
        p = subprocess.Popen(['pmacctd', '-f', conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2.0)
        ppcap = os.path.join(OUT, f'pmacctd-v{v}{suffix}.pcap')
        td = subprocess.Popen(['tcpdump', '-i', 'lo', '-U', '-s', '256', '-w', ppcap, FILTER], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        transfer(tag=b'y')
        time.sleep(1.0)
        td.send_signal(signal.SIGINT)
        td.wait(timeout=10)
        time.sleep(8)  # pmacct expires flows after the timeouts above
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
        dgs = rx.close(quiet=2.0)
        nf, nfcmd = nfdump_reference(dgs, f'pmacctd-v{v}{suffix}')
        name = f'pmacctd-v{v}{suffix}.json'
        doc = {
            'exporter': 'pmacctd (nfprobe plugin)', 'version': versions['pmacctd'], 'netflowVersion': v,
            'command': f'pmacctd -f pmacctd-v{v}{suffix}.conf', 'samplingRate': rate or 1, 'config': open(conf).read(), 'date': date,
            'traffic': traffic + ' (live on lo; the pcap recorded alongside by tcpdump is the expected-value source)',
            'pcap': f'pmacctd-v{v}{suffix}.pcap', 'expected': pcap_flows(ppcap),
            'datagrams': dgs, 'nfdump': {'version': versions['nfdump'], 'command': nfcmd, 'records': nf},
        }
        with open(os.path.join(OUT, name), 'w') as f:
            json.dump(doc, f, indent=1)
        index.append(name)
        print(name, len(dgs), 'datagrams', len(nf), 'nfdump records', file=sys.stderr)
    with open(os.path.join(OUT, 'index.json'), 'w') as f:
        json.dump({'date': date, 'tools': versions, 'vectors': index}, f, indent=1)


if __name__ == '__main__':
    main()
