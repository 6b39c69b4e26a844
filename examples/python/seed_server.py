# Example Python server program that receives file descriptors
# (the server of the "Temperature data" example of Python's sendmsg()
# documentation, run as a capsock guest: only the import line differs)
from capsock import os, socket  # natively: import os, socket

# Create Unix domain socket
serverSocket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

# Bind the server socket to a path
socketPath = "./uds_socket"
serverSocket.bind(socketPath)

# Listen for incoming connections
serverSocket.listen()
print("Unix domain socket listening...", flush=True)

while(True):
    fdList = None  # List of file descriptors
    (clientConnection, clientAddress) = serverSocket.accept()
    msg, fdList, flags, addr = socket.recv_fds(clientConnection, 1024, 2)
    print("Message received at server...")
    print("Non-ancillary message:%s" % msg.decode())
    print("Contents of the file descriptor:")

    # The kernel recreated the file descriptors...just use them
    for fileCount, fd in enumerate(fdList, 1):
        os.lseek(fd, 0, 0)
        print("File %d contents:" % fileCount)
        print(os.read(fd, 1024).decode())

    # Hand the first file back, as send_fds sends any descriptor
    socket.send_fds(clientConnection, [b"thanks, returning file 1"], fdList[:1])
    for fd in fdList:
        os.close(fd)
    clientConnection.close()
    print("Done with this client", flush=True)
