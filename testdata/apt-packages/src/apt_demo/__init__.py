import shutil
import subprocess


def main() -> None:
    curl = shutil.which("curl")
    version = subprocess.run([curl, "--version"], capture_output=True, text=True).stdout.split()[1]
    print(f"apt demo: curl {version} at {curl}, gcc present: {shutil.which('gcc') is not None}")
