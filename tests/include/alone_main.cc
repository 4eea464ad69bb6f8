// The translation units beside this one each include one public header and
// nothing else; that they compiled is the test.
int main() { return 0; }
