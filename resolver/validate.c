/* resolver/validate: placeholder stage; see validate.h. */
#include "resolver/validate.h"

enum step validate_run(struct resolution *r)
{
	(void)r;
	return STEP_NEXT;
}
