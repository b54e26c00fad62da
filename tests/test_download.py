"Downloader and extractor of FMA, against a local HTTP server (loopback only): resume, checksum, bad input."
import hashlib, io, threading, zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
import pytest
from mgr_course.config import CFG
from mgr_course.files import download, extract_zip, DownloadError, ChecksumError
from mgr_course.data import download_fma

PAYLOAD = bytes(range(256))*1200          # 300 KiB
SHA1 = hashlib.sha1(PAYLOAD).hexdigest()


class Server:
    "A loopback HTTP server with Range support; files[path] = bytes; `cut` paths drop the first connection midway."
    def __init__(self):
        self.files, self.cut, self.no_range, self.log = {}, set(), set(), []
        srv = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a): pass
            def do_HEAD(self):                           # the size only, as FMA's host answers it (not logged: the log is of downloads)
                if self.path not in srv.files: self.send_error(404); return
                self.send_response(200); self.send_header('Content-Length', str(len(srv.files[self.path]))); self.end_headers()
            def do_GET(self):
                srv.log.append((self.path, self.headers.get('Range')))
                if self.path not in srv.files: self.send_error(404); return
                data, start = srv.files[self.path], 0
                rng = self.headers.get('Range')
                if rng and self.path not in srv.no_range:
                    start = int(rng.split('=')[1].split('-')[0])
                    if start >= len(data):
                        self.send_response(416); self.send_header('Content-Range', f'bytes */{len(data)}'); self.end_headers(); return
                    self.send_response(206); self.send_header('Content-Range', f'bytes {start}-{len(data)-1}/{len(data)}')
                else: self.send_response(200)
                body = data[start:]
                self.send_header('Content-Length', str(len(body))); self.end_headers()
                if self.path in srv.cut:                      # send half, then drop the connection
                    srv.cut.discard(self.path)
                    self.wfile.write(body[:len(body)//2]); self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}'
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True)
        self.thread.start()

    def close(self): self.httpd.shutdown(); self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    s.files['/ok.bin'] = PAYLOAD
    yield s
    s.close()


def test_download_and_verify(server, tmp_path):
    dest = download(server.url + '/ok.bin', tmp_path/'ok.bin', SHA1, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path/'ok.bin.part').exists()
    n = len(server.log)
    download(server.url + '/ok.bin', dest, SHA1, progress=False)        # already there and verified: no request
    assert len(server.log) == n


def test_resume_with_range(server, tmp_path):
    (tmp_path/'ok.bin.part').write_bytes(PAYLOAD[:1000])
    dest = download(server.url + '/ok.bin', tmp_path/'ok.bin', SHA1, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.log[-1] == ('/ok.bin', 'bytes=1000-')


def test_interrupted_download_keeps_part_and_resumes(server, tmp_path):
    server.files['/cut.bin'] = PAYLOAD; server.cut.add('/cut.bin')
    with pytest.raises(DownloadError, match='interrupted') as e:
        download(server.url + '/cut.bin', tmp_path/'cut.bin', SHA1, progress=False, retries=0)
    assert 'cut.bin.part' in str(e.value) and 'resume' in str(e.value)
    part = tmp_path/'cut.bin.part'
    assert not (tmp_path/'cut.bin').exists()                           # nothing half-written looks complete
    assert 0 < part.stat().st_size < len(PAYLOAD) and PAYLOAD.startswith(part.read_bytes())
    dest = download(server.url + '/cut.bin', tmp_path/'cut.bin', SHA1, progress=False, retries=0)
    assert dest.read_bytes() == PAYLOAD
    assert server.log[-1][1] == f'bytes={len(PAYLOAD)//2}-'


def test_interrupted_download_retries_by_itself(server, tmp_path):
    server.files['/cut.bin'] = PAYLOAD; server.cut.add('/cut.bin')
    dest = download(server.url + '/cut.bin', tmp_path/'cut.bin', SHA1, progress=False, retries=2)
    assert dest.read_bytes() == PAYLOAD
    assert [r for _, r in server.log] == [None, f'bytes={len(PAYLOAD)//2}-']


def test_server_ignoring_range_restarts(server, tmp_path):
    server.no_range.add('/ok.bin')
    (tmp_path/'ok.bin.part').write_bytes(b'junk that must not be kept')
    assert download(server.url + '/ok.bin', tmp_path/'ok.bin', SHA1, progress=False).read_bytes() == PAYLOAD


def test_complete_part_gets_416_and_is_used(server, tmp_path):
    (tmp_path/'ok.bin.part').write_bytes(PAYLOAD)
    assert download(server.url + '/ok.bin', tmp_path/'ok.bin', SHA1, progress=False).read_bytes() == PAYLOAD


def test_checksum_mismatch_keeps_file_aside(server, tmp_path):
    with pytest.raises(ChecksumError) as e:
        download(server.url + '/ok.bin', tmp_path/'ok.bin', '0'*40, progress=False)
    msg = str(e.value)
    assert 'ok.bin' in msg and 'ok.bin.bad' in msg and 'delete it and download again' in msg
    assert not (tmp_path/'ok.bin').exists() and not (tmp_path/'ok.bin.part').exists()
    assert (tmp_path/'ok.bin.bad').read_bytes() == PAYLOAD


def test_corrupt_existing_file_is_caught(server, tmp_path):
    (tmp_path/'ok.bin').write_bytes(PAYLOAD[:-1] + b'x')                  # placed by hand, damaged
    with pytest.raises(ChecksumError):
        download(server.url + '/ok.bin', tmp_path/'ok.bin', SHA1, progress=False)
    assert not (tmp_path/'ok.bin').exists() and (tmp_path/'ok.bin.bad').exists()


def test_zero_length_download(server, tmp_path):
    server.files['/empty.bin'] = b''
    with pytest.raises(DownloadError, match='0 bytes'):
        download(server.url + '/empty.bin', tmp_path/'empty.bin', SHA1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_http_error(server, tmp_path):
    with pytest.raises(DownloadError, match='404'):
        download(server.url + '/nope.zip', tmp_path/'nope.zip', SHA1, progress=False)
    assert not (tmp_path/'nope.zip').exists()


def _zip(members: dict) -> bytes:
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w', compression=zipfile.ZIP_BZIP2) as z:
        for k, v in members.items(): z.writestr(k, v)
    return b.getvalue()


def test_extract_is_atomic_and_idempotent(tmp_path, monkeypatch):
    (tmp_path/'a.zip').write_bytes(_zip({'fma_x/000/000002.mp3': b'abc', 'fma_x/README.txt': b'r'}))
    real_extract, calls = zipfile.ZipFile.extract, []
    def failing(self, member, path=None, pwd=None):
        calls.append(member)
        if len(calls) == 2: raise OSError('disk full')
        return real_extract(self, member, path, pwd)
    monkeypatch.setattr(zipfile.ZipFile, 'extract', failing)
    with pytest.raises(OSError, match='disk full'): extract_zip(tmp_path/'a.zip', tmp_path/'out', progress=False)
    assert sorted(p.name for p in (tmp_path/'out').iterdir()) == ['.a.zip.lock']      # no half folder, no marker
    monkeypatch.setattr(zipfile.ZipFile, 'extract', real_extract)
    assert extract_zip(tmp_path/'a.zip', tmp_path/'out', progress=False) == [tmp_path/'out'/'fma_x']
    assert (tmp_path/'out'/'fma_x'/'000'/'000002.mp3').read_bytes() == b'abc'
    assert extract_zip(tmp_path/'a.zip', tmp_path/'out', progress=False) == [tmp_path/'out'/'fma_x']


def test_extract_refuses_unmarked_folder_and_bad_zip(tmp_path):
    (tmp_path/'a.zip').write_bytes(_zip({'fma_x/f.txt': b'abc'}))
    (tmp_path/'out'/'fma_x').mkdir(parents=True)
    with pytest.raises(FileExistsError, match='fma_x'): extract_zip(tmp_path/'a.zip', tmp_path/'out', progress=False)
    (tmp_path/'b.zip').write_bytes(b'PK not a zip at all')
    with pytest.raises(DownloadError, match='b.zip'): extract_zip(tmp_path/'b.zip', tmp_path/'out', progress=False)


def test_download_fma_end_to_end(server, tmp_path):
    meta = _zip({'fma_metadata/tracks.csv': b'x', 'fma_metadata/genres.csv': b'y'})
    small = _zip({'fma_small/000/000002.mp3': b'mp3', 'fma_small/checksums': b'c'})
    server.files.update({'/fma/fma_metadata.zip': meta, '/fma/fma_small.zip': small})
    cfg = CFG.replace(fma_url=server.url + '/fma/', fma_metadata_sha1=hashlib.sha1(meta).hexdigest(),
                      fma_small_sha1=hashlib.sha1(small).hexdigest())
    assert download_fma(tmp_path, cfg=cfg, progress=False) == tmp_path
    assert (tmp_path/'fma_small'/'000'/'000002.mp3').read_bytes() == b'mp3'
    assert (tmp_path/'fma_metadata'/'genres.csv').read_bytes() == b'y'
    n = len(server.log)
    download_fma(tmp_path, cfg=cfg, progress=False)                        # everything done: no request, no work
    assert len(server.log) == n
    with pytest.raises(ValueError, match='small, medium, large'): download_fma(tmp_path, subset='huge', cfg=cfg)


def test_download_fma_from_a_mirror_and_not_again_once_extracted(server, tmp_path, monkeypatch):
    meta = _zip({'fma_metadata/tracks.csv': b'x'})
    small = _zip({'fma_small/000/000002.mp3': b'mp3'})
    server.files.update({'/mirror/fma_metadata.zip': meta, '/mirror/fma_small.zip': small})
    cfg = CFG.replace(fma_url='http://127.0.0.1:9/fma/', fma_metadata_sha1=hashlib.sha1(meta).hexdigest(),   # the host is down
                      fma_small_sha1=hashlib.sha1(small).hexdigest())
    with pytest.raises(DownloadError, match='MGR_FMA_URL') as e: download_fma(tmp_path, cfg=cfg, progress=False)
    assert 'nothing was saved' in str(e.value) and not (tmp_path/'fma_metadata.zip.part').exists()
    monkeypatch.setenv('MGR_FMA_URL', server.url + '/mirror')                # no trailing slash: added
    assert download_fma(tmp_path, cfg=cfg, progress=False) == tmp_path
    assert (tmp_path/'fma_small'/'000'/'000002.mp3').read_bytes() == b'mp3'
    assert [p for p, _ in server.log] == ['/mirror/fma_metadata.zip', '/mirror/fma_small.zip']
    for z in ('fma_metadata.zip', 'fma_small.zip'): (tmp_path/z).unlink()    # archives deleted to save space
    download_fma(tmp_path, cfg=cfg, progress=False)                          # extracted already: nothing fetched again
    assert len(server.log) == 2
