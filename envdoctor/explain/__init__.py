"""`envdoctor explain`: read a traceback or a whole WebUI log and say which known error it shows.

reader   streams any input as numbered text lines (UTF-8, GBK/GB18030, UTF-16; binary/empty detected)
         in bounded memory, whatever its size or line length
matcher  matches the lines against the matrix's known errors, keeps evidence and error-looking lines
combine  links each match to what envdoctor sees on this machine (check's findings)
"""
