<?php
declare(strict_types=1);

namespace Bench;

final class Paginator
{
    public readonly int $page;

    public function __construct(public readonly int $total, public readonly int $perPage, int $page)
    {
        $this->page = min(max(1, $page), $this->pages());
    }

    public function pages(): int
    {
        return max(1, (int) ceil($this->total / $this->perPage));
    }

    public function offset(): int
    {
        return ($this->page - 1) * $this->perPage;
    }

    /** @return list<int> */
    public function window(int $size = 5): array
    {
        $start = max(1, $this->page - intdiv($size, 2));
        $end = min($this->pages(), $start + $size - 1);
        return range($start, $end);
    }
}
