/* resolver/main: ternd's entry point (placeholder until the workers land). */
int main(void)
{
	return 0;
}
