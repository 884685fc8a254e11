import sshpkg


def main():
    print(sshpkg.hello())
