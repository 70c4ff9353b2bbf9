"""A BMC that offers IPMI cipher suite 17, for the power driver's tests.

No BMC simulator on Debian 12 or PyPI offers cipher suite 17 (RAKP-HMAC-SHA256, HMAC-SHA256-128, AES-CBC-128):
ipmi_sim (OpenIPMI 2.0.33) has no SHA-256 at all, and pyghmi's BMC server answers every Open Session with suite 3.
pyghmi's session layer does carry the SHA-256 variants (its client speaks suite 17), so this script keeps pyghmi's
BMC and packet code and only lets its server session pick suite 17 when it is asked for. ipmitool (`-C 17`) is the
reference client that shows the result is a correct suite 17 BMC; the tests run it against this peer first.

Usage: pyghmi_bmc.py PORT USER PASSWORD SUITES STATE_FILE
SUITES is a comma list of the suites this BMC accepts ("17" is a hardened BMC, "17,3" accepts both).
STATE_FILE gets one line per chassis change ("power on", "boot pxe") so a test sees what the BMC was told.
"""

import hashlib
import hmac
import os
import struct
import sys

import pyghmi.ipmi.bmc as bmc
import pyghmi.ipmi.private.serversession as serversession

# Algorithm numbers (IPMI v2.0 tables 13-17, 13-18, 13-19) of the two suites.
SUITES = {17: (3, 4, 1), 3: (1, 1, 1)}
ACCEPTED = set()


class Suite17Session(serversession.ServerSession):
    """pyghmi's server session, with the algorithms chosen from the request instead of fixed to suite 3."""

    def create_open_session_response(self, request):
        clienttag = request[0]
        self.clientsessionid = request[4:8]
        self.managedsessionid = os.urandom(4)
        self.privlevel = 4
        asked = (request[12] & 0x3F, request[20] & 0x3F, request[28] & 0x3F)
        suite = next((number for number, algorithms in SUITES.items()
                      if algorithms == asked and number in ACCEPTED), None)
        if suite is None:
            # 0x11: no matching cipher suite (IPMI v2.0 table 13-15). The refused session ends here.
            self.forget()
            return bytearray([clienttag, 0x11, 0, 0]) + self.clientsessionid
        self.suite = suite
        self.currhashlib = hashlib.sha256 if suite == 17 else hashlib.sha1
        self.currhashlen = 16 if suite == 17 else 12
        auth, integrity, confidentiality = SUITES[suite]
        return (bytearray([clienttag, 0, self.privlevel, 0]) + self.clientsessionid + self.managedsessionid
                + bytearray([0, 0, 0, 8, auth, 0, 0, 0, 1, 0, 0, 8, integrity, 0, 0, 0,
                             2, 0, 0, 8, confidentiality, 0, 0, 0]))

    # pyghmi routes packets to a session by the client's address (IP and UDP port), not by session ID as a BMC does,
    # and keeps a session routed there after it closed or was refused. Our client opens every session from one UDP
    # port, so its next session's first packets reached the old session: pyghmi hands a sessionless packet on to the
    # server, but an Open Session request queued behind it in the same read was dropped, and the client saw a BMC
    # gone silent. An ended session leaves the address at once (`forget`); a packet routed to it before that (the
    # client's next session starts as soon as the close is answered) goes to the server as a packet of no session;
    # and an Open Session request that still reaches a live one starts a fresh session in its place, as a new
    # session on a real BMC.
    forgotten = False

    def forget(self):
        self.forgotten = True
        handlers = serversession.ipmisession.Session.bmc_handlers
        ports = handlers.get(self.sockaddr, {})
        if ports.get(self.bmc.port) is self:
            del ports[self.bmc.port]
            if not ports:
                del handlers[self.sockaddr]

    def sessionless_data(self, data, sockaddr):
        return self.bmc.sessionless_data(data, sockaddr)

    def _handle_ipmi_packet(self, data, sockaddr=None, qent=None):
        if self.forgotten:
            return self.bmc.sessionless_data(data, sockaddr)
        return super()._handle_ipmi_packet(data, sockaddr=sockaddr, qent=qent)

    def close_server_session(self):
        self.forget()

    def _got_rmcp_openrequest(self, data):
        Suite17Session(self.authdata, self.bmc.kg, self.sockaddr, self.socket, data, self.uuid, self.bmc)

    def _got_rakp1(self, data):
        if not hasattr(self, 'suite'):
            return
        clienttag = data[0]
        self.Rm = data[8:24]
        self.rolem = data[24]
        self.maxpriv = self.rolem & 0b111
        self.username = bytes(data[28:28 + data[27]])
        password = self.authdata.get(self.username.decode('utf-8'))
        if password is None:
            self.send_payload(bytearray([clienttag, 0x0D, 0, 0]) + self.clientsessionid,
                              serversession.constants.payload_types['rakp2'], retry=False)
            self.forget()
            return
        self.uuiddata = self.uuid.bytes
        self.Rc = os.urandom(16)
        self.kuid = password.encode('utf-8')
        if self.kg is None:
            self.kg = self.kuid
        hmacdata = (self.clientsessionid + self.managedsessionid + self.Rm + self.Rc + self.uuiddata
                    + bytearray([self.rolem, len(self.username)]) + self.username)
        authcode = hmac.new(self.kuid, bytes(hmacdata), self.currhashlib).digest()
        self.send_payload(bytearray([clienttag, 0, 0, 0]) + self.clientsessionid + self.Rc + self.uuiddata + authcode,
                          serversession.constants.payload_types['rakp2'], retry=False)

    def _got_rakp3(self, data):
        if not hasattr(self, 'Rc'):
            return
        digest = self.currhashlib
        self.sik = hmac.new(self.kg, bytes(self.Rm + self.Rc) + struct.pack('2B', self.rolem, len(self.username))
                            + self.username, digest).digest()
        self.k1 = hmac.new(self.sik, b'\x01' * 20, digest).digest()
        self.k2 = hmac.new(self.sik, b'\x02' * 20, digest).digest()
        self.aeskey = self.k2[0:16]
        expected = hmac.new(self.kuid, bytes(self.Rc + self.clientsessionid + struct.pack(
            '2B', self.rolem, len(self.username)) + self.username), digest).digest()
        if expected != bytes(data[8:]) or data[1] != 0:
            self.send_payload(bytearray([data[0], 0x0F, 0, 0]) + self.clientsessionid,
                              serversession.constants.payload_types['rakp4'], retry=False)
            self.forget()
            return
        self.localsid = struct.unpack('<I', self.managedsessionid)[0]
        self.ipmicallback = self.handle_client_request
        payload = bytearray([data[0], 0, 0, 0]) + self.clientsessionid
        check = hmac.new(self.sik, bytes(self.Rm + self.managedsessionid + self.uuiddata), digest).digest()
        payload += check[:self.currhashlen]
        self.send_payload(payload, serversession.constants.payload_types['rakp4'], retry=False)
        self.confalgo = 'aes'
        self.integrityalgo = 'sha256' if self.suite == 17 else 'sha1'
        self.sequencenumber = 1
        self.sessionid = struct.unpack('<I', bytes(self.clientsessionid))[0]


class RecordingBmc(bmc.Bmc):
    """Keeps power and boot device in memory and appends every change to the state file."""

    def __init__(self, authdata, port, state_file):
        super().__init__(authdata, port=port, address='::1')
        self.power = 'off'
        self.bootdevice = 'default'
        self.state_file = state_file

    def note(self, line):
        with open(self.state_file, 'a') as out:
            out.write(line + '\n')

    def get_power_state(self):
        return self.power

    def power_on(self):
        self.power = 'on'
        self.note('power on')

    def power_off(self):
        self.power = 'off'
        self.note('power off')

    def power_cycle(self):
        self.power = 'on'
        self.note('power cycle')

    def power_reset(self):
        self.note('power reset')

    def power_shutdown(self):
        self.power = 'off'
        self.note('power soft-off')

    def get_boot_device(self):
        return self.bootdevice

    def set_boot_device(self, bootdevice):
        self.bootdevice = bootdevice
        self.note('boot ' + str(bootdevice))


def main():
    port, user, password, suites, state_file = sys.argv[1:6]
    ACCEPTED.update(int(number) for number in suites.split(','))
    serversession.ServerSession = Suite17Session
    server = RecordingBmc({user: password}, int(port), state_file)
    server.note('ready')
    server.listen()


if __name__ == '__main__':
    main()
