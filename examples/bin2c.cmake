# cmake -DIN=file -DOUT=header.h -DNAME=symbol -P bin2c.cmake
# Embeds a binary (the compiled XDP program) as a C array, so that the
# example needs no file beside it at run time.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" nhex)
math(EXPR nbytes "${nhex} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n\t" body "${body}")
file(WRITE "${OUT}" "/* Generated from ${IN} by bin2c.cmake. */\n"
	"static const unsigned char ${NAME}[] __attribute__((aligned(8))) = {\n\t${body}\n};\n"
	"static const size_t ${NAME}_len = ${nbytes};\n")
