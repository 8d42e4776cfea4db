"""Unpacking the source distributions the tools take from the package index."""
import tarfile
import zipfile


def unpack(archive, into):
    """Extract the .zip or .tar.gz ``archive`` into the folder ``into``."""
    if archive.endswith('.zip'):
        opened = zipfile.ZipFile(archive)
    else:
        opened = tarfile.open(archive)
    try:
        opened.extractall(into)
    finally:
        opened.close()
