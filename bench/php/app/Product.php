<?php
declare(strict_types=1);

namespace Bench;

final class Product extends Model
{
    /**
     * @param list<Review> $reviews
     * @param list<string> $tags
     */
    public function __construct(
        int $id,
        public readonly string $name,
        public readonly Category $category,
        public readonly Money $price,
        public readonly int $stock,
        public readonly \DateTimeImmutable $added,
        public readonly array $reviews,
        public readonly array $tags,
    ) {
        parent::__construct($id);
    }

    public function rating(): float
    {
        if ($this->reviews === []) {
            return 0.0;
        }
        $sum = 0;
        foreach ($this->reviews as $r) {
            $sum += $r->stars;
        }
        return $sum / count($this->reviews);
    }

    public function toArray(): array
    {
        return [
            'id' => $this->id,
            'name' => $this->name,
            'category' => $this->category->toArray(),
            'price' => $this->price->cents,
            'stock' => $this->stock,
            'rating' => $this->rating(),
            'tags' => $this->tags,
        ];
    }
}
